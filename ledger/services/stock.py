"""Stock movements a person or a system records: receipts, returns, adjustments, counts
and transfers. `movement_record` is the one entry point that owns what each kind requires
and refuses; the dashboard form and the API serializer only translate input to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Sum

from ..errors import InsufficientStock, InvalidOperation
from ..models import Location, Movement, MovementKind, Sku, StockOperation
from .catalogue import location_default
from .operations import (
    Origin,
    Pending,
    check_quantity,
    insufficient,
    lock_levels,
    operate,
)

# --- stock movements --------------------------------------------------------------------


def stock_receive(
    *, sku: Sku, quantity: int, location: Location | None = None, origin: Origin = Origin()
) -> StockOperation:
    """Goods arrived: on_hand goes up."""
    return _single_level_change(
        MovementKind.RECEIPT, sku=sku, location=location, quantity=quantity, origin=origin
    )


def stock_return(
    *, sku: Sku, quantity: int, location: Location | None = None, origin: Origin = Origin()
) -> StockOperation:
    """A customer return put back on the shelf."""
    return _single_level_change(
        MovementKind.RETURN, sku=sku, location=location, quantity=quantity, origin=origin
    )


def stock_receive_lines(
    *,
    lines: Sequence[tuple[Sku, int]],
    location: Location | None = None,
    origin: Origin = Origin(),
) -> StockOperation:
    """A goods receipt with many lines (a delivery, a catalogue's opening stock): one
    operation, one lock statement, one insert of movements, one outbox refresh."""
    if not lines:
        raise InvalidOperation("A receipt needs at least one line.", field="lines")
    for _, quantity in lines:
        check_quantity(quantity)
    location = location or location_default()
    if len({sku.pk for sku, _ in lines}) != len(lines):
        raise InvalidOperation("Each SKU may appear once per receipt.", field="lines")

    def work(pending: Pending) -> None:
        levels = lock_levels([(sku.pk, location.pk) for sku, _ in lines])
        for sku, quantity in lines:
            pending.move(levels[(sku.pk, location.pk)], MovementKind.RECEIPT, on_hand=quantity)

    payload = {"lines": [(sku.pk, quantity) for sku, quantity in lines], "location": location.pk}
    return operate(MovementKind.RECEIPT, origin=origin, payload=payload, work=work)


def stock_adjust(
    *, sku: Sku, quantity: int, location: Location | None = None, origin: Origin = Origin()
) -> StockOperation:
    """A signed correction (damage, loss, found stock). It may not take available below
    zero: units promised to open orders cannot be adjusted away."""
    if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity < 0:
        check_quantity(-quantity)
    else:
        check_quantity(quantity)
    return _single_level_change(
        MovementKind.ADJUSTMENT, sku=sku, location=location, quantity=quantity, origin=origin
    )


def _single_level_change(
    kind: str, *, sku: Sku, location: Location | None, quantity: int, origin: Origin
) -> StockOperation:
    if kind != MovementKind.ADJUSTMENT:
        check_quantity(quantity)
    location = location or location_default()

    def work(pending: Pending) -> None:
        level = lock_levels([(sku.pk, location.pk)])[(sku.pk, location.pk)]
        if quantity < 0 and level.available + quantity < 0:
            raise insufficient(sku, -quantity, max(level.available, 0), location=location.code)
        pending.move(level, kind, on_hand=quantity)

    payload = {"sku": sku.pk, "location": location.pk, "quantity": quantity}
    return operate(kind, origin=origin, payload=payload, work=work)


def stock_count(
    *,
    sku: Sku,
    counted: int,
    location: Location | None = None,
    counted_at: datetime | None = None,
    origin: Origin = Origin(),
) -> StockOperation:
    """A physical count. The counted number becomes a delta computed under the lock; a
    count taken in the past is brought forward by what moved since (never backdated)."""
    check_quantity(counted, allow_zero=True, name="quantity")
    location = location or location_default()

    def work(pending: Pending) -> dict:
        level = lock_levels([(sku.pk, location.pk)])[(sku.pk, location.pk)]
        moved_since = 0
        if counted_at is not None:
            moved_since = (
                Movement.objects.filter(
                    sku=sku, location=location, recorded_at__gt=counted_at
                ).aggregate(total=Sum("on_hand_delta"))["total"]
                or 0
            )
        target = max(counted + moved_since, 0)
        delta = target - level.on_hand
        if level.committed > target:
            raise InsufficientStock(
                f"A count of {target} for {sku.code} at {location.code} is below the "
                f"{level.committed} units committed to open orders: release or ship those "
                "orders first, or check the count.",
                sku=sku.code,
                requested=level.committed,
                available=target,
                location=location.code,
            )
        # A count that matches is still recorded: "we checked" is history too.
        pending.move(level, MovementKind.COUNT, on_hand=delta)
        return {"counted": counted, "moved_since_count": moved_since, "delta": delta}

    payload = {
        "sku": sku.pk,
        "location": location.pk,
        "counted": counted,
        "counted_at": counted_at.isoformat() if counted_at else None,
    }
    return operate(MovementKind.COUNT, origin=origin, payload=payload, work=work)


def stock_transfer(
    *,
    sku: Sku,
    quantity: int,
    from_location: Location,
    to_location: Location,
    origin: Origin = Origin(),
) -> StockOperation:
    """Move units between two locations in one transaction."""
    check_quantity(quantity)
    if from_location.pk == to_location.pk:
        raise InvalidOperation("A transfer needs two different locations.", field="to_location")

    def work(pending: Pending) -> None:
        levels = lock_levels([(sku.pk, from_location.pk), (sku.pk, to_location.pk)])
        source = levels[(sku.pk, from_location.pk)]
        if source.available < quantity:
            raise insufficient(sku, quantity, max(source.available, 0), location=from_location.code)
        pending.move(source, MovementKind.TRANSFER, on_hand=-quantity)
        pending.move(levels[(sku.pk, to_location.pk)], MovementKind.TRANSFER, on_hand=quantity)

    payload = {"sku": sku.pk, "from": from_location.pk, "to": to_location.pk, "quantity": quantity}
    return operate(MovementKind.TRANSFER, origin=origin, payload=payload, work=work)


# --- the one entry point for a recorded movement ------------------------------------------

MOVEMENT_KINDS = (
    MovementKind.RECEIPT,
    MovementKind.ADJUSTMENT,
    MovementKind.COUNT,
    MovementKind.RETURN,
    MovementKind.TRANSFER,
)
_POSITIVE_ONLY = {
    MovementKind.RECEIPT: "A receipt",
    MovementKind.RETURN: "A return",
    MovementKind.TRANSFER: "A transfer",
}


def movement_check(
    *,
    kind: str,
    quantity: int,
    location: Location | None = None,
    to_location: Location | None = None,
    counted_at: datetime | None = None,
) -> None:
    """What each kind of movement requires and refuses, in the merchant's words.

    Raises InvalidOperation naming the field. `movement_record` calls it first; a form may
    call it to show every message before anything is locked. The stock rules (available
    may not go below zero, a count may not go below what is committed) are checked again
    under the lock by the service itself.
    """
    if kind not in MOVEMENT_KINDS:
        raise InvalidOperation(
            "Choose what happened: receipt, adjustment, count, return or transfer.",
            field="kind",
        )
    check_quantity(abs(quantity) if isinstance(quantity, int) else quantity, allow_zero=True)
    if kind == MovementKind.COUNT:
        if quantity < 0:
            raise InvalidOperation(
                "A count cannot be negative: enter the number of units you counted "
                "(0 for an empty shelf).",
                field="quantity",
            )
    elif quantity == 0:
        raise InvalidOperation(
            "Zero units would change nothing. Enter how many units moved.", field="quantity"
        )
    elif quantity < 0 and kind in _POSITIVE_ONLY:
        raise InvalidOperation(
            f"{_POSITIVE_ONLY[kind]} cannot be negative. To take units off the books, "
            "record an adjustment with a negative number and a reason.",
            field="quantity",
        )
    if kind == MovementKind.TRANSFER:
        if to_location is None:
            raise InvalidOperation(
                "Choose the location the units go to (to_location).", field="to_location"
            )
        source = location or location_default()
        if source.pk == to_location.pk:
            raise InvalidOperation(
                f"The units are already at {source.name}: choose a different location "
                "to transfer to.",
                field="to_location",
            )
    elif to_location is not None:
        raise InvalidOperation("Only a transfer goes to another location.", field="to_location")
    if counted_at is not None and kind != MovementKind.COUNT:
        raise InvalidOperation("Only a count has a count time (counted_at).", field="counted_at")


def movement_record(
    *,
    kind: str,
    sku: Sku,
    quantity: int,
    location: Location | None = None,
    to_location: Location | None = None,
    counted_at: datetime | None = None,
    origin: Origin = Origin(),
) -> StockOperation:
    """Record one movement of any kind: the dashboard's form and `POST /api/v1/movements/`
    both come here, so they accept and refuse exactly the same things.

    `quantity` is the counted number for a count, a signed delta for an adjustment, and a
    positive number of units otherwise. The reason (on `origin`) is optional for every kind.
    """
    movement_check(
        kind=kind,
        quantity=quantity,
        location=location,
        to_location=to_location,
        counted_at=counted_at,
    )
    if kind == MovementKind.TRANSFER:
        return stock_transfer(
            sku=sku,
            quantity=quantity,
            from_location=location or location_default(),
            to_location=to_location,
            origin=origin,
        )
    if kind == MovementKind.COUNT:
        return stock_count(
            sku=sku, counted=quantity, location=location, counted_at=counted_at, origin=origin
        )
    service = {
        MovementKind.RECEIPT: stock_receive,
        MovementKind.RETURN: stock_return,
        MovementKind.ADJUSTMENT: stock_adjust,
    }[kind]
    return service(sku=sku, quantity=quantity, location=location, origin=origin)
