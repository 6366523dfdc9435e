"""The order-line state machine: what a channel's order events do to the ledger.

Each (channel, order, line) has one `ChannelOrderLine` recording which events were seen
(placed, cancelled, fulfilled, refunded and restocked). After each event the line is
brought to the state the whole set implies, through the ledger's services, so events may
arrive in any order and each transition is applied once: a cancel that arrives before
its create is remembered, and the create then reserves nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Protocol

from django.db import connection
from django.utils import timezone

from foundation.db import update_each
from ledger.models import Location, Sku, Source, normalize_sku_code
from ledger.services import (
    Origin,
    reservation_release,
    reservation_ship,
    stock_reserve,
    stock_return,
)

from ..models import Channel, ChannelOrderLine, InboundEvent
from ..webhooks.events import OrderEvent

logger = logging.getLogger(__name__)


class BatchLookups(Protocol):
    """What the intake batch looked up once for all its deliveries."""

    skus: dict[str, Sku]  # by normalized code
    delivery_sales: Counter  # units sold by (channel id, SKU id) in this delivery

    def locations_of(self, channel: Channel) -> list[Location]: ...


def order_event_apply(event: InboundEvent, order: OrderEvent, context: BatchLookups) -> list[str]:
    """Record what this event says about each line, then bring the ledger to the state
    the full set of seen events implies (so arrival order does not matter)."""
    skus = context.skus
    unmapped = [line.sku for line in order.lines if normalize_sku_code(line.sku) not in skus]
    mapped = [line for line in order.lines if normalize_sku_code(line.sku) in skus]
    if not mapped:
        return unmapped
    states = _lock_order_lines(event.channel, order.order_id, mapped, skus)
    for line in mapped:
        state = states[line.line_ref]
        if order.kind == "placed":
            state.placed, state.quantity = True, line.quantity
        elif order.kind == "cancelled":
            state.cancelled = True
        elif order.kind == "fulfilled":
            state.fulfilled = True
        elif order.kind == "refunded":
            state.refunded = True
            if line.restock:
                state.restock_quantity += line.quantity
        if not state.quantity:
            state.quantity = line.quantity
        if _converge(state, event, context.locations_of(event.channel)):
            context.delivery_sales[(event.channel_id, state.sku_id)] += state.quantity
    update_each(ChannelOrderLine, list(states.values()), STATE_FIELDS)
    return unmapped


def _lock_order_lines(
    channel: Channel, order_id: str, lines: list, skus: dict[str, Sku]
) -> dict[str, ChannelOrderLine]:
    """line_ref -> the state of each line, created when new and locked either way, in one
    INSERT ... ON CONFLICT DO UPDATE ... RETURNING (the update takes the row lock of a line
    an earlier event created), in line_ref order like every other caller."""
    fields = ChannelOrderLine._meta.concrete_fields
    now = timezone.now()
    rows = sorted({line.line_ref: line for line in lines}.values(), key=lambda line: line.line_ref)
    values = ", ".join(["(%s, %s, %s, %s, 0, %s, %s, %s, %s, 0, 'none', 0, NULL, %s)"] * len(rows))
    params: list = []
    for line in rows:
        sku_id = skus[normalize_sku_code(line.sku)].pk
        params += [channel.pk, order_id, line.line_ref, sku_id, False, False, False, False, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ChannelOrderLine._meta.db_table} (channel_id, order_id, line_ref,
                sku_id, quantity, placed, cancelled, fulfilled, refunded, restock_quantity,
                applied, returned_quantity, reservation_id, updated_at)
            VALUES {values}
            ON CONFLICT (channel_id, order_id, line_ref)
                DO UPDATE SET updated_at = excluded.updated_at
            RETURNING {", ".join(field.column for field in fields)}
            """,
            params,
        )
        found = cursor.fetchall()
    by_id = {sku.pk: sku for sku in skus.values()}
    states = {}
    for row in found:
        state = ChannelOrderLine(
            **{
                field.attname: field.to_python(value)
                for field, value in zip(fields, row, strict=True)
            }
        )
        state._state.adding, state._state.db = False, connection.alias
        state.updated_at = now
        state.sku = by_id[state.sku_id]
        states[state.line_ref] = state
    return states


STATE_FIELDS = [
    "quantity",
    "placed",
    "cancelled",
    "fulfilled",
    "refunded",
    "restock_quantity",
    "applied",
    "returned_quantity",
    "reservation",
    "updated_at",
]


def _target(state: ChannelOrderLine) -> str:
    if not state.placed:
        return "none"
    if state.fulfilled:
        return "shipped"
    if state.cancelled or state.refunded:
        return "released"
    return "reserved"


def _converge(state: ChannelOrderLine, event: InboundEvent, locations: list) -> bool:
    """Move the ledger to what the line's events imply. True when this reserved the line:
    a sale the channel made from its own count."""
    channel = event.channel
    target = _target(state)
    reserved = False

    def origin(step: str) -> Origin:
        return Origin(
            source=Source.CHANNEL,
            source_ref=f"{channel.slug}:{state.order_id}",
            inbound_event_id=event.pk,
            source_timestamp=event.source_timestamp,
            idempotency_key=f"order:{channel.pk}:{state.order_id}:{state.line_ref}:{step}",
        )

    if state.applied == "none" and target in ("reserved", "shipped"):
        state.reservation = stock_reserve(
            sku=state.sku,
            quantity=state.quantity,
            order_id=state.order_id,
            line_ref=state.line_ref,
            channel_slug=channel.slug,
            locations=locations,
            allow_oversell=True,  # the channel already sold it: record it, flag it
            origin=origin("reserve"),
        )
        state.applied = "reserved"
        reserved = True
    elif state.applied == "none" and target == "released":
        state.applied = "released"  # cancelled before we ever reserved: nothing to undo
    if state.applied == "reserved" and target == "shipped":
        reservation_ship(reservation=state.reservation, origin=origin("ship"))
        state.applied = "shipped"
    elif state.applied == "reserved" and target == "released":
        reservation_release(reservation=state.reservation, origin=origin("release"))
        state.applied = "released"
    if state.applied == "shipped":
        to_return = min(state.restock_quantity, state.quantity) - state.returned_quantity
        if to_return > 0:
            stock_return(
                sku=state.sku,
                quantity=to_return,
                location=locations[0] if locations else None,
                origin=origin(f"return-{state.returned_quantity + to_return}"),
            )
            state.returned_quantity += to_return
    if state.applied == "released" and target == "shipped":
        logger.warning(
            "order %s line %s on %s was fulfilled after it was cancelled; left as cancelled",
            state.order_id,
            state.line_ref,
            channel.slug,
        )
    return reserved
