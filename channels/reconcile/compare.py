"""One batch of a reconcile: what the channel showed, compared with what the hub
publishes, under the listings' locks (id order, as the drainer locks them).

A listing is
- *pending* when a push for it is queued or in flight, or was confirmed while we read,
  or unprocessed deliveries mention its SKU: not drift, looked at again next run;
- *in step* when the channel shows the published number (an open drift then closes as
  resolved, with the reason);
- *not on channel* when the channel does not carry the SKU (nothing is pushed; the
  next run that finds it there, or a mapping, lists it again);
- *drift* otherwise: recorded first (one open row per listing, updated rather than
  duplicated), acted on second by the investigator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import (
    DRIFT_UNDECIDED,
    Channel,
    ChannelAudit,
    ChannelAuditKind,
    ChannelKind,
    Drift,
    DriftStatus,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
    ReconcileRun,
)
from ..propagation.outbox import outbox_refresh_for_skus
from .decisions import drift_resolve, drift_severity
from .evidence import unprocessed_mentions

# Storefront kinds create a SKU on its first push: missing there means "push it".
CREATED_BY_PUSH = {ChannelKind.STANDARD, ChannelKind.SANDBOX}


@dataclass
class BatchResult:
    checked: int = 0
    pending: int = 0
    drift_new: list[int] = field(default_factory=list)
    drift_changed: list[int] = field(default_factory=list)
    resolved: int = 0
    not_on_channel: int = 0
    discovered: int = 0


def batch_compare(
    *,
    run: ReconcileRun,
    channel: Channel,
    listing_ids: list[int],
    shown: dict[str, int | None],
    read_started: datetime,
) -> BatchResult:
    """Compare and record one batch, and move the run's cursor past it, in one
    transaction: a run resumed after a crash starts after the last recorded batch."""
    result = BatchResult()
    now = timezone.now()
    with transaction.atomic():
        listings = list(
            Listing.objects.select_for_update(of=("self",))
            .filter(pk__in=listing_ids)
            .select_related("sku")
            .order_by("pk")
        )
        waiting = set(
            OutboxEntry.objects.filter(
                listing_id__in=listing_ids,
                status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT],
            ).values_list("listing_id", flat=True)
        )
        undecided: dict[int, Drift] = {}
        for drift in (
            Drift.objects.select_for_update()
            .filter(listing_id__in=listing_ids, status__in=DRIFT_UNDECIDED)
            .order_by("detected_at", "id")
        ):
            undecided.setdefault(drift.listing_id, drift)
        mentioned = unprocessed_mentions(
            channel_id=channel.pk, codes=[listing.sku.code for listing in listings]
        )
        push_again: list[int] = []
        for listing in listings:
            result.checked += 1
            listing.reconciled_at = now
            observed = shown.get(listing.sku.code)
            open_drift = undecided.get(listing.pk)
            if observed is None:
                _not_carried(run, channel, listing, result, push_again)
                continue
            if listing.state == ListingState.NOT_ON_CHANNEL:
                # The channel carries it now: list it again and publish the hub's number.
                listing.state = ListingState.PENDING
                push_again.append(listing.sku_id)
                result.discovered += 1
                if not run.dry_run:
                    _audit(channel, listing, ChannelAuditKind.NOT_LISTED, "now on the channel")
                continue
            expected = listing.published
            if observed == expected:
                if open_drift is not None and not run.dry_run:
                    drift_resolve(
                        drift=open_drift,
                        reason=(
                            f"{channel.name} shows the hub's {expected} again (a late "
                            "webhook or push landed) before anyone decided"
                        ),
                    )
                    result.resolved += 1
                continue
            confirmed_meanwhile = (
                listing.confirmed_at is not None
                and listing.confirmed_at >= read_started
                and listing.confirmed == expected
            )
            if listing.pk in waiting or confirmed_meanwhile or listing.sku.code in mentioned:
                result.pending += 1
                continue
            _record_drift(run, channel, listing, observed, open_drift, result)
        if not run.dry_run:
            Listing.objects.bulk_update(listings, ["reconciled_at", "state"])
            if push_again:
                outbox_refresh_for_skus(sku_ids=push_again, channel_ids=[channel.pk], force=True)
        run.cursor = max(listing_ids)
        run.listings_checked += result.checked
        run.pending_skipped += result.pending
        run.drift_found += len(result.drift_new)
        run.drift_resolved += result.resolved
        run.not_on_channel += result.not_on_channel
        run.discovered += result.discovered
        run.save(
            update_fields=[
                "cursor",
                "listings_checked",
                "pending_skipped",
                "drift_found",
                "drift_resolved",
                "not_on_channel",
                "discovered",
            ]
        )
    return result


def _not_carried(
    run: ReconcileRun, channel: Channel, listing: Listing, result: BatchResult, push_again: list
) -> None:
    if listing.state == ListingState.NOT_ON_CHANNEL:
        return
    if channel.kind in CREATED_BY_PUSH:
        # The storefront creates the SKU on its first push: make sure one goes.
        if listing.state != ListingState.PENDING:
            push_again.append(listing.sku_id)
        return
    result.not_on_channel += 1
    if run.dry_run:
        return
    listing_mark_not_on_channel(listing, channel=channel, why="a reconcile read found no such SKU")


def listing_mark_not_on_channel(listing: Listing, *, channel: Channel, why: str) -> None:
    """No pushes for a SKU the channel does not carry: its waiting entries are dropped
    (never dead-lettered). Call inside a transaction holding the listing's lock; the
    caller saves the listing's state."""
    listing.state = ListingState.NOT_ON_CHANNEL
    OutboxEntry.objects.filter(listing=listing, status__in=[OutboxStatus.PENDING]).update(
        status=OutboxStatus.NOT_LISTED, last_error=why[:2000], updated_at=timezone.now()
    )
    _audit(channel, listing, ChannelAuditKind.NOT_LISTED, f"not on the channel: {why}")


def _audit(channel: Channel, listing: Listing, kind: str, message: str) -> None:
    ChannelAudit.objects.create(
        kind=kind,
        channel=channel,
        sku_id=listing.sku_id,
        message=message,
        data={"listing_id": listing.pk, "state": listing.state},
    )


def _record_drift(
    run: ReconcileRun,
    channel: Channel,
    listing: Listing,
    observed: int,
    open_drift: Drift | None,
    result: BatchResult,
) -> None:
    expected = listing.published
    if run.dry_run:
        if open_drift is None:
            result.drift_new.append(0)
        return
    if open_drift is not None:
        if (open_drift.hub_quantity, open_drift.channel_quantity) == (expected, observed):
            # Already recorded: never counted twice. One a webhook recorded is still
            # uninvestigated: the investigator looks at it now.
            if open_drift.status == DriftStatus.OPEN:
                result.drift_changed.append(open_drift.pk)
            return
        # The numbers moved: the same row, brought up to date, investigated again.
        open_drift.hub_quantity, open_drift.channel_quantity = expected, observed
        open_drift.severity = drift_severity(observed - expected)
        open_drift.status = DriftStatus.OPEN
        open_drift.run = run
        open_drift.save(
            update_fields=["hub_quantity", "channel_quantity", "severity", "status", "run"]
        )
        result.drift_changed.append(open_drift.pk)
        return
    drift = Drift.objects.create(
        channel=channel,
        listing=listing,
        sku=listing.sku,
        hub_quantity=expected,
        channel_quantity=observed,
        source="reconcile",
        severity=drift_severity(observed - expected),
        confidence=0,
        reasoning="Recorded by the reconcile; not investigated yet.",
        status=DriftStatus.OPEN,
        run=run,
    )
    result.drift_new.append(drift.pk)
