"""What the tests share: waiting for the channels to confirm, reading the stores back,
the latency of a sale until every other channel confirmed it."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q

from bench.harness.stats import summary
from channels.models import (
    ChannelAudit,
    ChannelAuditKind,
    InboundEvent,
    InboundStatus,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from ledger.models import Movement, MovementKind, Source

from ..workspace import CertChannel, Workspace

TARGET_P95_MS = 5000.0


def listing_counts(channel_ids: Sequence[int], sku_ids: Sequence[int]) -> tuple[int, int]:
    """(listings in sync with confirmed == published, all listings) of these SKUs."""
    listings = Listing.objects.filter(channel_id__in=channel_ids, sku_id__in=sku_ids)
    agg = listings.aggregate(
        total=Count("id"),
        synced=Count("id", filter=Q(state=ListingState.IN_SYNC, confirmed=F("published"))),
    )
    return agg["synced"], agg["total"]


def busy(channel_ids: Sequence[int], sku_ids: Sequence[int] | None = None) -> int:
    """Deliveries not yet processed plus pushes pending or in flight."""
    outbox = OutboxEntry.objects.filter(
        channel_id__in=channel_ids, status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    )
    if sku_ids is not None:
        outbox = outbox.filter(listing__sku_id__in=sku_ids)
    inbox = InboundEvent.objects.filter(
        channel_id__in=channel_ids, status__in=[InboundStatus.RECEIVED, InboundStatus.FAILED]
    )
    return outbox.count() + inbox.count()


def wait_confirmed(
    channel_ids: Sequence[int],
    sku_ids: Sequence[int],
    *,
    timeout: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bool, float]:
    """Until every listing of these SKUs on these channels is confirmed at what the hub
    publishes, with nothing pending or unprocessed. (done, seconds waited)."""
    started = time.monotonic()
    while True:
        synced, total = listing_counts(channel_ids, sku_ids)
        if progress is not None:
            progress(synced, total)
        if synced == total and not busy(channel_ids, sku_ids):
            return True, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        time.sleep(0.25)


def wait_not_in_flight(
    channel_ids: Sequence[int], sku_ids: Sequence[int], *, timeout: float
) -> bool:
    """Until no push of these listings is in flight (a drainer holds them): their rows
    may then go without a drain finding them gone mid-way."""
    deadline = time.monotonic() + timeout
    while OutboxEntry.objects.filter(
        channel_id__in=channel_ids, listing__sku_id__in=sku_ids, status=OutboxStatus.IN_FLIGHT
    ).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def store_mismatches(
    ws: Workspace, sku_ids: Sequence[int], limit: int = 10, *, sold_out_below_zero: bool = False
) -> list[dict]:
    """Listings whose simulated store shows another number than the hub publishes. With
    sold_out_below_zero, a store that sold past the 0 the hub had confirmed (its own
    oversell, recorded by the hub as an incident) and shows less than 0 counts as
    showing 0: it sells nothing either way."""
    out: list[dict] = []
    for channel in ws.channels:
        levels = ws.sim.levels(channel.slug)
        for code, published in Listing.objects.filter(
            channel_id=channel.channel_id, sku_id__in=sku_ids
        ).values_list("sku__code", "published"):
            shown = levels.get(code)
            if sold_out_below_zero and published == 0 and shown is not None and shown < 0:
                continue
            if shown != published:
                out.append({"channel": channel.slug, "sku": code, "hub": published, "store": shown})
    return out[:limit] + ([{"more": len(out) - limit}] if len(out) > limit else [])


def failures_since(channel_ids: Sequence[int], since: datetime) -> dict[str, int]:
    rows = ChannelAudit.objects.filter(
        channel_id__in=channel_ids,
        kind__in=[ChannelAuditKind.FAIL, ChannelAuditKind.DEAD],
        created_at__gte=since,
    ).values_list("kind", flat=True)
    out: dict[str, int] = defaultdict(int)
    for kind in rows:
        out[kind] += 1
    return dict(out)


def last_errors(channel_ids: Sequence[int], since: datetime, n: int = 3) -> list[str]:
    return list(
        ChannelAudit.objects.filter(
            channel_id__in=channel_ids,
            kind__in=[ChannelAuditKind.FAIL, ChannelAuditKind.DEAD],
            created_at__gte=since,
        )
        .order_by("-id")
        .values_list("message", flat=True)[:n]
    )


def sale_latencies(
    seller: CertChannel, order_ids: Sequence[str], others: Sequence[CertChannel]
) -> dict[str, Any]:
    """Per order sold on `seller`: from the hub storing its webhook (InboundEvent.
    received_at) until every other channel confirmed a quantity at or below the available
    quantity right after that sale. An order never confirmed counts as infinite."""
    prefix = f"{seller.slug}:"
    moves = {
        ref[len(prefix) :]: (sku_id, on_hand - committed, event_id)
        for ref, sku_id, on_hand, committed, event_id in Movement.objects.filter(
            kind=MovementKind.RESERVE,
            source=Source.CHANNEL,
            source_ref__in=[f"{prefix}{o}" for o in order_ids],
        ).values_list(
            "source_ref", "sku_id", "on_hand_after", "committed_after", "inbound_event_id"
        )
    }
    received = dict(
        InboundEvent.objects.filter(pk__in=[m[2] for m in moves.values()]).values_list(
            "pk", "received_at"
        )
    )
    confirms: dict[tuple[int, int], list[tuple[datetime, int]]] = defaultdict(list)
    for channel_id, sku_id, quantity, at in OutboxEntry.objects.filter(
        channel_id__in=[o.channel_id for o in others], status=OutboxStatus.CONFIRMED
    ).values_list("channel_id", "listing__sku_id", "quantity", "confirmed_at"):
        confirms[(channel_id, sku_id)].append((at, quantity))
    for entries in confirms.values():
        entries.sort()
    inf = math.inf
    total: list[float] = []
    per_channel: dict[str, list[float]] = {o.slug: [] for o in others}
    missing = 0
    for order_id in order_ids:
        move = moves.get(order_id)
        if move is None or move[2] not in received:
            missing += 1
            total.append(inf)
            continue
        sku_id, available_after, event_id = move
        start = received[event_id]
        worst = 0.0
        for other in others:
            # From the sale on: a receipt before it (the recovery test restocks) may have
            # been confirmed at a number below the one after the sale.
            seen = confirms.get((other.channel_id, sku_id), ())
            at = next((a for a, q in seen if q <= available_after and a >= start), None)
            ms = inf if at is None else (at - start).total_seconds() * 1000
            per_channel[other.slug].append(ms)
            worst = max(worst, ms)
        total.append(worst)
    return {
        "total_ms": total,
        "summary": summary(total),
        "per_channel": {slug: summary(values) for slug, values in per_channel.items()},
        "missing_in_hub": missing,
    }


def fmt_ms(value: float | None) -> str:
    return "never" if value is None else f"{value / 1000:.2f} s"
