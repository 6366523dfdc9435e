"""The envelope every stock service runs in: who asked (`Origin`), the movements
collected under the lock (`Pending`), the idempotent transaction (`operate`) and the lock
statement (`lock_levels`).

Each service is one database transaction that
  1. records the operation (its idempotency key is UNIQUE, so a concurrent retry waits
     for the first and then replays it),
  2. locks the StockLevel rows it will change, in id order, in one statement,
  3. re-checks the rule under the lock (never trusting a number read before the lock),
  4. appends the movements and updates the levels, and
  5. tells the layers above that the stock of the touched SKUs changed (`ledger.hooks`;
     the channels app refreshes the published quantities and writes the outbox rows).

The rows a service checks are exactly the rows it locks and changes: checking a total
and then reserving somewhere else is how hubs oversell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import hooks, sql
from ..errors import IdempotencyConflict, InsufficientStock, InvalidOperation
from ..models import Movement, Reservation, Sku, Source, StockLevel, StockOperation
from .incidents import resolve_covered_incidents

MAX_QUANTITY = 1_000_000_000
# What a stock level's on_hand and committed columns hold (PostgreSQL integer). One
# quantity is at most MAX_QUANTITY; many of them (lines of one receipt, receipt after
# receipt) could add up past it, and the database would refuse the update with a 500.
MAX_LEVEL = 2**31 - 1


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
class Pending:
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
        if max(level.on_hand + on_hand, level.committed + committed) > MAX_LEVEL:
            raise InvalidOperation(
                f"A stock level holds at most {MAX_LEVEL:,} units: this {kind} would make "
                f"{level.on_hand + on_hand:,} on hand and {level.committed + committed:,} "
                "committed at one location. Check the quantities.",
                field="quantity",
                sku_id=level.sku_id,
                location_id=level.location_id,
            )
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
            resolve_covered_incidents(restocked, self.operation.kind, now)
        # The layers above (the channels' outbox rows for every listing of these SKUs)
        # are told in this same transaction: a movement without its push is a lost update.
        hooks.stock_changed(sku_ids)


# --- the operation envelope ----------------------------------------------------------


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
    lock_levels(pairs)
    _batch.active = True
    try:
        yield
    finally:
        _batch.active = False


def operate(
    kind: str, *, origin: Origin, payload: dict[str, Any], work: Callable[[Pending], Any]
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
            pending = Pending(operation=operation, origin=origin)
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


def lock_levels(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
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


def check_quantity(quantity: int, *, allow_zero: bool = False, name: str = "quantity") -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidOperation(f"{name} must be a whole number.", field=name)
    lowest = 0 if allow_zero else 1
    if not lowest <= quantity <= MAX_QUANTITY:
        raise InvalidOperation(
            f"{name} must be between {lowest} and {MAX_QUANTITY:,}.", field=name, value=quantity
        )


def insufficient(sku: Sku, requested: int, available: int, **detail: Any) -> InsufficientStock:
    return InsufficientStock(
        f"Only {available} of {sku.code} available; {requested} requested.",
        sku=sku.code,
        requested=requested,
        available=available,
        **detail,
    )
