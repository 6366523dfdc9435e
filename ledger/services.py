"""Every write to stock goes through a function in this module.

Each service is one database transaction that
  1. records the operation (its idempotency key is UNIQUE, so a concurrent retry waits
     for the first and then replays it),
  2. locks the StockLevel rows it will change, in id order, in one statement,
  3. re-checks the rule under the lock (never trusting a number read before the lock),
  4. appends the movements and updates the levels, and
  5. refreshes the channels' published quantities (outbox rows) for the touched SKUs.

The rows a service checks are exactly the rows it locks and changes: checking a total
and then reserving somewhere else is how hubs oversell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone

from . import sql
from .errors import (
    DuplicateReservation,
    IdempotencyConflict,
    IncidentNotFound,
    InsufficientStock,
    InvalidOperation,
    InvalidState,
    LocationNotFound,
    SkuNotFound,
)
from .models import (
    IncidentStatus,
    Location,
    Movement,
    MovementKind,
    OversellIncident,
    Reservation,
    ReservationLine,
    ReservationStatus,
    Sku,
    Source,
    StockLevel,
    StockOperation,
    normalize_sku_code,
)

MAX_QUANTITY = 1_000_000_000
# Codes whose page would be another page: the addresses that sit beside /skus/<code>/.
RESERVED_SKU_CODES = {
    "new": "the dashboard's new-SKU form",
    "bulk": "the API's bulk SKU creation",
}


@dataclass(frozen=True)
class Origin:
    """Who or what asked for a change; copied onto every movement it produces."""

    source: str = Source.SYSTEM
    actor: AbstractBaseUser | None = None
    source_ref: str = ""
    reason: str = ""
    inbound_event_id: int | None = None
    source_timestamp: datetime | None = None
    idempotency_key: str | None = None

    @property
    def actor_id(self) -> int | None:
        return self.actor.pk if self.actor is not None and self.actor.is_authenticated else None


@dataclass
class _Pending:
    """Movements of one operation, collected under the lock and written in bulk."""

    operation: StockOperation
    origin: Origin
    movements: list[Movement] = field(default_factory=list)
    levels: dict[int, StockLevel] = field(default_factory=dict)

    def move(
        self,
        level: StockLevel,
        kind: str,
        *,
        on_hand: int = 0,
        committed: int = 0,
        reservation: Reservation | None = None,
        reason: str = "",
    ) -> None:
        level.on_hand += on_hand
        level.committed += committed
        level.version += 1
        self.levels[level.pk] = level
        key = self.origin.idempotency_key
        self.movements.append(
            Movement(
                operation=self.operation,
                sku_id=level.sku_id,
                location_id=level.location_id,
                kind=kind,
                on_hand_delta=on_hand,
                committed_delta=committed,
                on_hand_after=level.on_hand,
                committed_after=level.committed,
                level_version=level.version,
                source=self.origin.source,
                source_ref=self.origin.source_ref,
                inbound_event_id=self.origin.inbound_event_id,
                reservation=reservation,
                idempotency_key=f"{key}#{len(self.movements)}" if key else None,
                actor_id=self.origin.actor_id,
                reason=reason or self.origin.reason,
                source_timestamp=self.origin.source_timestamp,
            )
        )

    def write(self) -> None:
        if not self.movements:
            return
        now = timezone.now()
        sql.update_levels(list(self.levels.values()), now)
        sql.insert(self.movements, with_ids=False)
        sku_ids = {level.sku_id for level in self.levels.values()}
        restocked = {m.sku_id for m in self.movements if m.on_hand_delta > m.committed_delta}
        if restocked:
            _resolve_covered_incidents(restocked, self.operation.kind, now)
        # The outbox rows for every channel listing of these SKUs are written in this
        # same transaction: a movement without its push is a lost update.
        from channels.outbox import outbox_refresh_for_skus

        outbox_refresh_for_skus(sku_ids=sku_ids)


# --- lookups -----------------------------------------------------------------------------


def sku_get(code: str) -> Sku:
    try:
        return Sku.objects.get(code_key=normalize_sku_code(code))
    except Sku.DoesNotExist:
        raise SkuNotFound(f"No SKU with code {code.strip()!r}.", sku=code) from None


def skus_by_code(codes: Sequence[str]) -> dict[str, Sku]:
    """code as given -> Sku, in one query; SkuNotFound names the first unknown code."""
    keys = {code: normalize_sku_code(code) for code in codes}
    found = {sku.code_key: sku for sku in Sku.objects.filter(code_key__in=set(keys.values()))}
    missing = [code for code, key in keys.items() if key not in found]
    if missing:
        raise SkuNotFound(
            f"No SKU with code {missing[0].strip()!r}"
            + (f" (and {len(missing) - 1} more)." if len(missing) > 1 else "."),
            sku=missing[0],
            missing=missing[:20],
        )
    return {code: found[key] for code, key in keys.items()}


def location_get(code: str | None) -> Location:
    if code is None:
        return location_default()
    try:
        return Location.objects.get(code=code)
    except Location.DoesNotExist:
        raise LocationNotFound(f"No location with code {code!r}.", location=code) from None


def location_default() -> Location:
    """The default location; recreated if someone removed it (a migration makes it)."""
    location = Location.objects.filter(is_default=True).first()
    if location is None:
        location, _ = Location.objects.get_or_create(
            is_default=True, defaults={"code": "main", "name": "Main warehouse", "priority": 0}
        )
    return location


# --- catalogue ---------------------------------------------------------------------------


def sku_create(
    *, code: str, title: str = "", barcode: str = "", attributes: dict | None = None
) -> Sku:
    return skus_create(
        items=[{"code": code, "title": title, "barcode": barcode, "attributes": attributes}]
    )[0]


def skus_create(*, items: Sequence[dict]) -> list[Sku]:
    """Create SKUs (a catalogue import is one call) and list them on every channel, in
    one transaction: all or nothing. Codes match trimmed and case-insensitively."""
    skus = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        code = str(item.get("code") or "").strip()
        if not code:
            raise InvalidOperation("A SKU code cannot be blank.", field="code", index=index)
        if code in RESERVED_SKU_CODES:
            raise InvalidOperation(
                f"{code!r} cannot be a SKU code: /skus/{code}/ is the address of "
                f"{RESERVED_SKU_CODES[code]}. Use another spelling, for example "
                f"{code.upper()!r}.",
                field="code",
                index=index,
            )
        key = normalize_sku_code(code)
        if key in seen:
            raise InvalidOperation(f"SKU {code!r} appears twice.", field="code", index=index)
        seen.add(key)
        skus.append(
            Sku(
                code=code,
                code_key=key,
                title=item.get("title") or "",
                barcode=item.get("barcode") or "",
                attributes=item.get("attributes") or {},
            )
        )
    taken = set(Sku.objects.filter(code_key__in=seen).values_list("code_key", flat=True))
    existing = [sku.code for sku in skus if sku.code_key in taken][:5]
    if existing:
        raise InvalidOperation(
            f"A SKU with code {existing[0]!r} already exists (codes match case-insensitively).",
            field="code",
            existing=existing,
        )
    with transaction.atomic():
        Sku.objects.bulk_create(skus, batch_size=1000)
        from channels.services import listings_match_skus

        listings_match_skus(skus=skus)
    return skus


def location_create(*, code: str, name: str, priority: int = 100) -> Location:
    if Location.objects.filter(code=code).exists():
        raise InvalidOperation(f"A location with code {code!r} already exists.", field="code")
    return Location.objects.create(code=code, name=name, priority=priority)


# --- the operation envelope -------------------------------------------------------------


def _fingerprint(kind: str, payload: dict[str, Any]) -> str:
    text = json.dumps({"kind": kind, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(operation: StockOperation, kind: str, fingerprint: str) -> StockOperation:
    if operation.kind != kind or operation.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request.",
            idempotency_key=operation.idempotency_key,
            first_operation=operation.pk,
        )
    operation.replayed = True
    return operation


_batch = threading.local()


@contextlib.contextmanager
def stock_operations_batched(pairs: Iterable[tuple[int, int]] = ()):
    """Run many stock operations inside the caller's transaction, all or nothing.

    The levels of `pairs` ((sku_id, location_id)) are locked up front in one statement,
    in id order like every operation locks, so two batches (or a batch and an API call)
    can wait for each other but never deadlock on stock levels. Inside, an operation opens
    no savepoint of its own: an error spoils the whole transaction, and the caller rolls
    the batch back and applies its parts one by one (each then recovers on its own, e.g.
    replaying an idempotency key).
    """
    _lock_levels(pairs)
    _batch.active = True
    try:
        yield
    finally:
        _batch.active = False


def _operate(
    kind: str, *, origin: Origin, payload: dict[str, Any], work: Callable[[_Pending], Any]
) -> StockOperation:
    """Run `work` inside one transaction under a new StockOperation, or replay the
    first operation made with the same idempotency key."""
    key = origin.idempotency_key
    fingerprint = _fingerprint(kind, payload)
    try:
        with transaction.atomic(savepoint=not getattr(_batch, "active", False)):
            operation = StockOperation(
                kind=kind,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                source=origin.source,
                actor_id=origin.actor_id,
            )
            # Inserted first: a concurrent retry with the same key waits on the unique
            # index until this transaction ends; a key already used is replayed.
            if key and not sql.insert_unless_taken(operation, unique="idempotency_key"):
                raise _KeyTaken
            pending = _Pending(operation=operation, origin=origin)
            operation.result = work(pending) or {}
            if key:
                if operation.result:
                    operation.save(update_fields=["result"])
            else:
                sql.insert([operation])
            pending.write()
    except (_KeyTaken, IntegrityError) as exc:
        # The key was used before (or by a concurrent request that committed first).
        if key:
            existing = StockOperation.objects.filter(idempotency_key=key).first()
            if existing is not None:
                return _replay(existing, kind, fingerprint)
        if isinstance(exc, _KeyTaken):
            raise IdempotencyConflict(
                "This Idempotency-Key is being used by a request that did not finish.",
                idempotency_key=key,
            ) from None
        raise
    operation.replayed = False
    return operation


class _KeyTaken(Exception):
    """The operation's idempotency key is already in the ledger: replay, do not redo."""


def _lock_levels(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Lock (creating where missing) the StockLevel of each (sku_id, location_id) pair.

    One SELECT ... FOR UPDATE ordered by id: every service takes its locks in the same
    global order, so two multi-SKU operations can wait for each other but not deadlock.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    levels = sql.lock_levels(wanted)
    missing = [pair for pair in wanted if pair not in levels]
    if missing:
        sql.create_missing_levels(missing, timezone.now())
        levels = sql.lock_levels(wanted)
    return levels


def _check_quantity(quantity: int, *, allow_zero: bool = False, name: str = "quantity") -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidOperation(f"{name} must be a whole number.", field=name)
    lowest = 0 if allow_zero else 1
    if not lowest <= quantity <= MAX_QUANTITY:
        raise InvalidOperation(
            f"{name} must be between {lowest} and {MAX_QUANTITY:,}.", field=name, value=quantity
        )


def _insufficient(sku: Sku, requested: int, available: int, **detail: Any) -> InsufficientStock:
    return InsufficientStock(
        f"Only {available} of {sku.code} available; {requested} requested.",
        sku=sku.code,
        requested=requested,
        available=available,
        **detail,
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
        _check_quantity(quantity)
    location = location or location_default()
    if len({sku.pk for sku, _ in lines}) != len(lines):
        raise InvalidOperation("Each SKU may appear once per receipt.", field="lines")

    def work(pending: _Pending) -> None:
        levels = _lock_levels([(sku.pk, location.pk) for sku, _ in lines])
        for sku, quantity in lines:
            pending.move(levels[(sku.pk, location.pk)], MovementKind.RECEIPT, on_hand=quantity)

    payload = {"lines": [(sku.pk, quantity) for sku, quantity in lines], "location": location.pk}
    return _operate(MovementKind.RECEIPT, origin=origin, payload=payload, work=work)


def stock_adjust(
    *, sku: Sku, quantity: int, location: Location | None = None, origin: Origin = Origin()
) -> StockOperation:
    """A signed correction (damage, loss, found stock). It may not take available below
    zero: units promised to open orders cannot be adjusted away."""
    if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity < 0:
        _check_quantity(-quantity)
    else:
        _check_quantity(quantity)
    return _single_level_change(
        MovementKind.ADJUSTMENT, sku=sku, location=location, quantity=quantity, origin=origin
    )


def _single_level_change(
    kind: str, *, sku: Sku, location: Location | None, quantity: int, origin: Origin
) -> StockOperation:
    if kind != MovementKind.ADJUSTMENT:
        _check_quantity(quantity)
    location = location or location_default()

    def work(pending: _Pending) -> None:
        level = _lock_levels([(sku.pk, location.pk)])[(sku.pk, location.pk)]
        if quantity < 0 and level.available + quantity < 0:
            raise _insufficient(sku, -quantity, max(level.available, 0), location=location.code)
        pending.move(level, kind, on_hand=quantity)

    payload = {"sku": sku.pk, "location": location.pk, "quantity": quantity}
    return _operate(kind, origin=origin, payload=payload, work=work)


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
    _check_quantity(counted, allow_zero=True, name="quantity")
    location = location or location_default()

    def work(pending: _Pending) -> dict:
        level = _lock_levels([(sku.pk, location.pk)])[(sku.pk, location.pk)]
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
    return _operate(MovementKind.COUNT, origin=origin, payload=payload, work=work)


def stock_transfer(
    *,
    sku: Sku,
    quantity: int,
    from_location: Location,
    to_location: Location,
    origin: Origin = Origin(),
) -> StockOperation:
    """Move units between two locations in one transaction."""
    _check_quantity(quantity)
    if from_location.pk == to_location.pk:
        raise InvalidOperation("A transfer needs two different locations.", field="to_location")

    def work(pending: _Pending) -> None:
        levels = _lock_levels([(sku.pk, from_location.pk), (sku.pk, to_location.pk)])
        source = levels[(sku.pk, from_location.pk)]
        if source.available < quantity:
            raise _insufficient(
                sku, quantity, max(source.available, 0), location=from_location.code
            )
        pending.move(source, MovementKind.TRANSFER, on_hand=-quantity)
        pending.move(levels[(sku.pk, to_location.pk)], MovementKind.TRANSFER, on_hand=quantity)

    payload = {"sku": sku.pk, "from": from_location.pk, "to": to_location.pk, "quantity": quantity}
    return _operate(MovementKind.TRANSFER, origin=origin, payload=payload, work=work)


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
        _check_quantity(line.quantity)
    if not order_id or not str(order_id).strip():
        raise InvalidOperation("order_id is required.", field="order_id")
    candidates = _candidate_locations(location, locations)
    if not candidates:
        raise LocationNotFound("There is no location to reserve stock from.")

    def work(pending: _Pending) -> dict:
        levels = _lock_levels([(line.sku.pk, place.pk) for line in lines for place in candidates])
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
                    raise _insufficient(line.sku, line.quantity, available, order_id=order_id)
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
            _open_oversell_incident(
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
        operation = _operate(MovementKind.RESERVE, origin=origin, payload=payload, work=work)
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


def _open_oversell_incident(*, sku: Sku, shortfall: int, channel_slug: str, order_id: str) -> None:
    entry = {"channel": channel_slug, "order_id": order_id, "quantity": shortfall}
    incident = (
        OversellIncident.objects.select_for_update()
        .filter(sku=sku, status=IncidentStatus.OPEN)
        .first()
    )
    if incident is None:
        OversellIncident.objects.create(sku=sku, shortfall=shortfall, orders=[entry])
        return
    incident.shortfall += shortfall
    incident.orders = [*incident.orders, entry]
    incident.save(update_fields=["shortfall", "orders"])


def _resolve_covered_incidents(sku_ids: set[int], kind: str, now: datetime) -> None:
    """Close the open oversell incidents of these SKUs whose available is back at zero or
    above: stock arrived (or an order gave its units back) and covers the shortfall."""
    available = (
        StockLevel.objects.filter(sku_id=OuterRef("sku_id"))
        .values("sku_id")
        .annotate(total=Sum(F("on_hand") - F("committed")))
        .values("total")
    )
    OversellIncident.objects.filter(sku_id__in=sku_ids, status=IncidentStatus.OPEN).alias(
        available=Subquery(available)
    ).filter(available__gte=0).update(
        status=IncidentStatus.RESOLVED,
        resolved_at=now,
        resolution=f"Covered: available is back at zero or above after a {kind}.",
    )


def incident_resolve(
    *, incident_id: int, resolution: str, actor: AbstractBaseUser | None = None
) -> OversellIncident:
    """A person closes an oversell incident (the orders were cancelled, or fulfilled from
    elsewhere), saying how. Stock does not move."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidOperation(
            "Say how the incident was resolved, for example: order 1042 cancelled and refunded.",
            field="resolution",
        )
    if len(resolution) > 500:
        raise InvalidOperation("Keep the resolution under 500 characters.", field="resolution")
    with transaction.atomic():
        incident = (
            OversellIncident.objects.select_for_update()
            .select_related("sku")
            .filter(pk=incident_id)
            .first()
        )
        if incident is None:
            raise IncidentNotFound(f"No incident {incident_id}.", incident_id=incident_id)
        if incident.status != IncidentStatus.OPEN:
            raise InvalidState(
                f"Incident {incident_id} is already resolved: {incident.resolution}",
                incident_id=incident_id,
            )
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at = timezone.now()
        incident.resolution = resolution
        incident.resolved_by = actor
        incident.save(update_fields=["status", "resolved_at", "resolution", "resolved_by"])
    return incident


def reservation_release(*, reservation: Reservation, origin: Origin = Origin()) -> Reservation:
    """The order was cancelled: its committed units become available again."""
    return _close_reservation(reservation, ReservationStatus.RELEASED, origin)


def reservation_ship(*, reservation: Reservation, origin: Origin = Origin()) -> Reservation:
    """The order left the building: committed and on_hand both go down."""
    return _close_reservation(reservation, ReservationStatus.SHIPPED, origin)


def _close_reservation(reservation: Reservation, status: str, origin: Origin) -> Reservation:
    kind = MovementKind.RELEASE if status == ReservationStatus.RELEASED else MovementKind.SHIP

    def work(pending: _Pending) -> dict:
        lines = list(reservation.lines.all())
        levels = _lock_levels([(reservation.sku_id, line.location_id) for line in lines])
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

    _operate(kind, origin=origin, payload={"reservation": reservation.pk}, work=work)
    reservation.refresh_from_db()
    return reservation
