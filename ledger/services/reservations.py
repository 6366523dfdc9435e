"""Reservations: units committed to an order line, then released or shipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError
from django.utils import timezone

from .. import sql
from ..errors import DuplicateReservation, InvalidOperation, InvalidState, LocationNotFound
from ..models import (
    Location,
    MovementKind,
    Reservation,
    ReservationLine,
    ReservationStatus,
    Sku,
    StockLevel,
)
from .incidents import open_oversell_incident
from .operations import Origin, Pending, check_quantity, insufficient, lock_levels, operate

# --- reservations -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineRequest:
    sku: Sku
    quantity: int
    line_ref: str = ""


def _candidate_locations(
    location: Location | None, locations: Sequence[Location] | None
) -> list[Location]:
    if location is not None:
        return [location]
    if locations:
        return list(locations)
    return sql.locations_by_priority()


def stock_reserve(
    *,
    sku: Sku,
    quantity: int,
    order_id: str,
    line_ref: str = "",
    channel_slug: str = "",
    location: Location | None = None,
    locations: Sequence[Location] | None = None,
    allow_oversell: bool = False,
    origin: Origin = Origin(),
) -> Reservation:
    """Commit units to one order line. See `stock_reserve_order`."""
    reservations = stock_reserve_order(
        lines=[OrderLineRequest(sku=sku, quantity=quantity, line_ref=line_ref)],
        order_id=order_id,
        channel_slug=channel_slug,
        location=location,
        locations=locations,
        allow_oversell=allow_oversell,
        origin=origin,
    )
    return reservations[0]


def stock_reserve_order(
    *,
    lines: Sequence[OrderLineRequest],
    order_id: str,
    channel_slug: str = "",
    location: Location | None = None,
    locations: Sequence[Location] | None = None,
    allow_oversell: bool = False,
    origin: Origin = Origin(),
) -> list[Reservation]:
    """Commit units to every line of an order, all or nothing.

    Without a location, each line takes stock in location priority order, splitting
    across locations when one is not enough. Hub-originated reservations never take
    available below zero (InsufficientStock). A channel that has already sold
    (`allow_oversell`) is recorded anyway: the shortfall is committed at the first
    location and an oversell incident is opened.
    """
    if not lines:
        raise InvalidOperation("An order needs at least one line.", field="lines")
    for line in lines:
        check_quantity(line.quantity)
    if not order_id or not str(order_id).strip():
        raise InvalidOperation("order_id is required.", field="order_id")
    candidates = _candidate_locations(location, locations)
    if not candidates:
        raise LocationNotFound("There is no location to reserve stock from.")

    def work(pending: Pending) -> dict:
        levels = lock_levels([(line.sku.pk, place.pk) for line in lines for place in candidates])
        shortfalls: list[tuple[OrderLineRequest, int]] = []
        plans: list[tuple[OrderLineRequest, list[tuple[StockLevel, int]]]] = []
        for line in lines:
            remaining = line.quantity
            plan: list[tuple[StockLevel, int]] = []
            for place in candidates:
                level = levels[(line.sku.pk, place.pk)]
                take = min(max(level.available, 0), remaining)
                if take:
                    plan.append((level, take))
                    remaining -= take
                if not remaining:
                    break
            if remaining:
                if not allow_oversell:
                    available = line.quantity - remaining
                    raise insufficient(line.sku, line.quantity, available, order_id=order_id)
                shortfalls.append((line, remaining))
                plan.append((levels[(line.sku.pk, candidates[0].pk)], remaining))
            plans.append((line, plan))

        reservations = []
        for line, plan in plans:
            # A duplicate order line violates a UNIQUE constraint; the whole operation
            # then rolls back and stock_reserve_order reports which reservation exists.
            reservation = Reservation(
                sku=line.sku,
                quantity=line.quantity,
                order_id=order_id,
                line_ref=line.line_ref,
                channel_slug=channel_slug,
                source=origin.source,
            )
            sql.insert([reservation])
            merged: dict[int, int] = {}
            for level, take in plan:
                merged[level.location_id] = merged.get(level.location_id, 0) + take
                pending.move(level, MovementKind.RESERVE, committed=take, reservation=reservation)
            sql.insert(
                [
                    ReservationLine(reservation=reservation, location_id=loc, quantity=qty)
                    for loc, qty in merged.items()
                ],
                with_ids=False,
            )
            reservations.append(reservation)
        for line, shortfall in shortfalls:
            open_oversell_incident(
                sku=line.sku, shortfall=shortfall, channel_slug=channel_slug, order_id=order_id
            )
        pending.operation.reservations = reservations
        return {
            "reservation_ids": [reservation.pk for reservation in reservations],
            "oversold": {line.sku.code: shortfall for line, shortfall in shortfalls},
        }

    payload = {
        "lines": [(line.sku.pk, line.quantity, line.line_ref) for line in lines],
        "order_id": order_id,
        "channel": channel_slug,
        "locations": [place.pk for place in candidates],
    }
    try:
        operation = operate(MovementKind.RESERVE, origin=origin, payload=payload, work=work)
    except IntegrityError:
        existing = Reservation.objects.filter(
            channel_slug=channel_slug,
            order_id=order_id,
            sku__in=[line.sku for line in lines],
            line_ref__in=[line.line_ref for line in lines],
        ).first()
        if existing is None:
            raise
        raise DuplicateReservation(
            f"Order {order_id} already has a reservation for {existing.sku.code}.",
            reservation_id=existing.pk,
        ) from None
    if getattr(operation, "reservations", None) is not None:
        return operation.reservations
    ids = operation.result.get("reservation_ids", [])  # a replay: read what was made
    by_id = Reservation.objects.in_bulk(ids)
    return [by_id[pk] for pk in ids]


def reservation_release(*, reservation: Reservation, origin: Origin = Origin()) -> Reservation:
    """The order was cancelled: its committed units become available again."""
    return _close_reservation(reservation, ReservationStatus.RELEASED, origin)


def reservation_ship(*, reservation: Reservation, origin: Origin = Origin()) -> Reservation:
    """The order left the building: committed and on_hand both go down."""
    return _close_reservation(reservation, ReservationStatus.SHIPPED, origin)


def _close_reservation(reservation: Reservation, status: str, origin: Origin) -> Reservation:
    kind = MovementKind.RELEASE if status == ReservationStatus.RELEASED else MovementKind.SHIP

    def work(pending: Pending) -> dict:
        lines = list(reservation.lines.all())
        levels = lock_levels([(reservation.sku_id, line.location_id) for line in lines])
        # Re-read the reservation under the lock: a concurrent release or ship of the
        # same reservation waits on the same level rows and must then see it closed.
        current = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if current.status != ReservationStatus.OPEN:
            raise InvalidState(
                f"Reservation {current.pk} is already {current.status}.",
                reservation_id=current.pk,
                status=current.status,
            )
        for line in lines:
            level = levels[(reservation.sku_id, line.location_id)]
            if kind == MovementKind.RELEASE:
                pending.move(level, kind, committed=-line.quantity, reservation=current)
                continue
            shortfall = line.quantity - level.on_hand
            if shortfall > 0:
                # The goods physically left although the hub thought they were not
                # there: the books were short. Correct them first, with a reason.
                pending.move(
                    level,
                    MovementKind.ADJUSTMENT,
                    on_hand=shortfall,
                    reason="shipped more than the hub had on hand; books corrected",
                )
            pending.move(
                level, kind, on_hand=-line.quantity, committed=-line.quantity, reservation=current
            )
        current.status = status
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "closed_at"])
        return {"reservation_ids": [current.pk]}

    operate(kind, origin=origin, payload={"reservation": reservation.pk}, work=work)
    reservation.refresh_from_db()
    return reservation
