"""The transactional outbox: what each channel listing should show, written in the same
transaction as the stock change that caused it.

`outbox_refresh_for_skus` is called by every ledger service (inside its transaction,
with the SKUs' stock levels locked) and by every rule, channel and listing change. It
recomputes the published quantity of each affected listing and upserts at most one
pending OutboxEntry per listing whose target changed. The number of statements is
constant in the number of listings (bulk reads, bulk writes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from inventory_hub.queueing import enqueue_on_commit
from ledger.models import Location, StockLevel

from .allocation import POOL, Rule, published_quantity
from .models import (
    AllocationRule,
    ChannelLocation,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)


def channel_available_by_sku(
    *, sku_ids: Iterable[int], channel_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    """(channel_id, sku_id) -> available summed over the channel's fulfilment locations
    (default: the default location)."""
    sku_ids, channel_ids = set(sku_ids), set(channel_ids)
    locations: dict[int, set[int]] = defaultdict(set)
    for channel_id, location_id in ChannelLocation.objects.filter(
        channel_id__in=channel_ids
    ).values_list("channel_id", "location_id"):
        locations[channel_id].add(location_id)
    if len(locations) < len(channel_ids):
        default_id = Location.objects.filter(is_default=True).values_list("id", flat=True).first()
        for channel_id in channel_ids:
            locations.setdefault(channel_id, {default_id})
    per_level: dict[tuple[int, int], int] = {}
    for sku_id, location_id, on_hand, committed in StockLevel.objects.filter(
        sku_id__in=sku_ids
    ).values_list("sku_id", "location_id", "on_hand", "committed"):
        per_level[(sku_id, location_id)] = on_hand - committed
    return {
        (channel_id, sku_id): sum(per_level.get((sku_id, loc), 0) for loc in places)
        for channel_id, places in locations.items()
        for sku_id in sku_ids
    }


def effective_rules(
    *, sku_ids: Iterable[int], channel_ids: Iterable[int]
) -> dict[tuple[int, int | None], Rule]:
    """(channel_id, sku_id or None for the default) -> Rule."""
    rows = AllocationRule.objects.filter(channel_id__in=set(channel_ids)).filter(
        Q(sku__isnull=True) | Q(sku_id__in=set(sku_ids))
    )
    return {(row.channel_id, row.sku_id): Rule.of(row) for row in rows}


def outbox_refresh_for_skus(
    *,
    sku_ids: Iterable[int],
    channel_ids: Iterable[int] | None = None,
    force: bool = False,
) -> int:
    """Recompute published quantities for these SKUs' listings and queue what changed.

    `force` queues a push even when the target did not change (a listing was just
    created, a channel re-enabled: the channel's own number is unknown). Returns the
    number of listings queued.
    """
    from .tasks import drain_outbox

    sku_ids = set(sku_ids)
    listings_qs = Listing.objects.filter(sku_id__in=sku_ids).select_related("channel")
    if channel_ids is not None:
        listings_qs = listings_qs.filter(channel_id__in=set(channel_ids))
    listings = list(listings_qs)
    if not listings:
        return 0
    involved = {listing.channel_id for listing in listings}
    available = channel_available_by_sku(sku_ids=sku_ids, channel_ids=involved)
    rules = effective_rules(sku_ids=sku_ids, channel_ids=involved)

    now = timezone.now()
    changed: list[Listing] = []
    to_queue: dict[int, tuple[Listing, int]] = {}
    for listing in listings:
        rule = rules.get((listing.channel_id, listing.sku_id)) or rules.get(
            (listing.channel_id, None), POOL
        )
        target = published_quantity(available[(listing.channel_id, listing.sku_id)], rule)
        if target == listing.published and not force:
            continue
        previous = listing.confirmed if listing.confirmed is not None else listing.published
        listing.published = target
        listing.target_version += 1
        pushable = listing.channel.enabled and listing.state != ListingState.UNMAPPED
        if pushable:
            listing.state = ListingState.PENDING
            to_queue[listing.pk] = (listing, previous)
        changed.append(listing)
    if not changed:
        return 0
    Listing.objects.bulk_update(changed, ["published", "target_version", "state"])
    if not to_queue:
        return 0

    pending = {
        entry.listing_id: entry
        for entry in OutboxEntry.objects.select_for_update().filter(
            listing_id__in=to_queue, status=OutboxStatus.PENDING
        )
    }
    updates, creates = [], []
    for listing_id, (listing, previous) in to_queue.items():
        priority = (
            OutboxEntry.PRIORITY_DECREASE
            if listing.published < previous
            else OutboxEntry.PRIORITY_INCREASE
        )
        entry = pending.get(listing_id)
        if entry is not None:
            # Coalesce: the newer target replaces the pending one; its backoff stays.
            entry.quantity = listing.published
            entry.target_version = listing.target_version
            entry.priority = min(entry.priority, priority)
            entry.updated_at = now
            updates.append(entry)
        else:
            creates.append(
                OutboxEntry(
                    channel_id=listing.channel_id,
                    listing=listing,
                    quantity=listing.published,
                    target_version=listing.target_version,
                    priority=priority,
                    next_attempt_at=now,
                    enqueued_at=now,
                )
            )
    if updates:
        OutboxEntry.objects.bulk_update(
            updates, ["quantity", "target_version", "priority", "updated_at"]
        )
    if creates:
        OutboxEntry.objects.bulk_create(creates)
    for channel_id in sorted({listing.channel_id for listing, _ in to_queue.values()}):
        enqueue_on_commit(drain_outbox, channel_id)
    return len(to_queue)
