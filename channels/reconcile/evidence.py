"""What the hub knows that might explain one drift: its own pushes of the listing
(pending, dead, earlier numbers), recent orders and unprocessed events of the SKU, how
often the listing drifted before, recent counts and receipts. Plain JSON, stored on the
drift row and handed to the investigator."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ledger.models import Movement, MovementKind

from ..models import (
    ChannelOrderLine,
    Drift,
    InboundEvent,
    InboundStatus,
    OutboxEntry,
    OutboxStatus,
)

RECENT_PUSHES = timedelta(days=7)
RECENT_ORDERS = timedelta(hours=2)
RECENT_STOCK = timedelta(hours=24)
DRIFT_HISTORY = timedelta(days=30)
UNPROCESSED = (InboundStatus.RECEIVED, InboundStatus.FAILED)


def _at(moment) -> str | None:
    return moment.isoformat() if moment else None


def unprocessed_mentions(*, channel_id: int, codes: list[str], limit: int = 2000) -> set[str]:
    """The SKU codes among `codes` that unprocessed deliveries of the channel mention.
    Deliveries are stored raw, so this looks for the code in their bodies: a rough test,
    erring towards "maybe explained" (the next run looks again)."""
    bodies = list(
        InboundEvent.objects.filter(channel_id=channel_id, status__in=UNPROCESSED)
        .order_by("-id")
        .values_list("body", flat=True)[:limit]
    )
    if not bodies:
        return set()
    return {code for code in codes if any(f'"{code}"' in body for body in bodies)}


def evidence_gather(drift: Drift, *, now=None) -> dict:
    now = now or timezone.now()
    listing_id, sku_id = drift.listing_id, drift.sku_id
    entries = OutboxEntry.objects.filter(listing_id=listing_id)
    pending = entries.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]).first()
    dead = entries.filter(status=OutboxStatus.DEAD).order_by("-id").first()
    pushed = list(
        entries.filter(
            status__in=[OutboxStatus.CONFIRMED, OutboxStatus.SUPERSEDED],
            updated_at__gte=now - RECENT_PUSHES,
        )
        .order_by("-id")
        .values("quantity", "status", "confirmed_at", "updated_at")[:20]
    )
    echo = next(
        (
            p
            for p in pushed
            if p["quantity"] == drift.channel_quantity and p["quantity"] != drift.hub_quantity
        ),
        None,
    )
    orders = list(
        ChannelOrderLine.objects.filter(sku_id=sku_id, updated_at__gte=now - RECENT_ORDERS)
        .select_related("channel")
        .order_by("-updated_at")
        .values("channel__slug", "order_id", "quantity", "placed", "cancelled", "updated_at")[:20]
    )
    # Only changes the channel has not confirmed since: one it confirmed explains nothing.
    after = now - RECENT_STOCK
    confirmed_at = drift.listing.confirmed_at
    if confirmed_at and confirmed_at > after:
        after = confirmed_at
    stock = list(
        Movement.objects.filter(
            sku_id=sku_id,
            recorded_at__gte=after,
            kind__in=[
                MovementKind.COUNT,
                MovementKind.RECEIPT,
                MovementKind.ADJUSTMENT,
                MovementKind.RETURN,
            ],
        )
        .order_by("-id")
        .values("kind", "on_hand_delta", "recorded_at")[:10]
    )
    earlier = (
        Drift.objects.filter(listing_id=listing_id, detected_at__gte=now - DRIFT_HISTORY)
        .exclude(pk=drift.pk)
        .count()
    )
    mentioned = unprocessed_mentions(channel_id=drift.channel_id, codes=[drift.sku.code])
    return {
        "expected": drift.hub_quantity,
        "observed": drift.channel_quantity,
        "delta": drift.delta,
        "pending_push": (
            {
                "quantity": pending.quantity,
                "status": pending.status,
                "since": _at(pending.created_at),
            }
            if pending
            else None
        ),
        "dead_push": (
            {"quantity": dead.quantity, "error": dead.last_error[:300], "at": _at(dead.updated_at)}
            if dead
            else None
        ),
        "earlier_pushes": [
            {"quantity": p["quantity"], "at": _at(p["confirmed_at"] or p["updated_at"])}
            for p in pushed[:5]
        ],
        "echo_of_our_push": (
            {"quantity": echo["quantity"], "at": _at(echo["confirmed_at"] or echo["updated_at"])}
            if echo
            else None
        ),
        "recent_orders": [
            {
                "channel": o["channel__slug"],
                "order_id": o["order_id"],
                "quantity": o["quantity"],
                "cancelled": o["cancelled"],
                "at": _at(o["updated_at"]),
            }
            for o in orders
        ],
        "unprocessed_events": bool(mentioned),
        "drifted_before_30d": earlier,
        "recent_stock_changes": [
            {"kind": m["kind"], "delta": m["on_hand_delta"], "at": _at(m["recorded_at"])}
            for m in stock
        ],
    }
