"""Webhook intake: persist first, process later, apply each transition once.

`accept.inbox_accept` is all the web request does after verification: one INSERT (the
UNIQUE (channel, dedupe_key) makes a redelivery a no-op) and, on commit, a wake-up for
the intake worker (a burst of deliveries publishes one task, see `wake`).
`inbox_process_waiting` claims what waits, oldest first, and applies it in batches: one
transaction per batch and one outbox refresh per touched listing at the end of it; if
anything in a batch fails (a delivery, or a step the deliveries share), the batch rolls
back and each of its deliveries is applied alone, so a failure is recorded on its own row
and no input can stop the intake. Each delivery turns into canonical events applied
to the ledger through its services (orders through the state machine in `orders`).
Failures retry with backoff stored in the row; the beat sweeper wakes the worker for
anything a lost broker message left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from foundation.db import update_each
from foundation.metrics import EVENTS, UNREADABLE
from foundation.queueing import enqueue
from ledger.models import Sku, normalize_sku_code
from ledger.services import (
    stock_operations_batched,
)

from ..models import (
    Channel,
    Drift,
    InboundEvent,
    InboundStatus,
    Listing,
)
from ..propagation.outbox import outbox_recheck, outbox_refresh_batched, outbox_refresh_flush
from ..selectors import channel_locations
from ..wakeup import (
    flag_clear,
    flag_is_raised,
    lease_release,
    lease_renew,
    lease_take_any,
)
from ..webhooks.events import LevelReported, OrderEvent
from ..webhooks.verify import WebhookRejected
from .order_fetch import orders_fetched
from .orders import order_event_apply
from .unreadable import Unreadable, delivery_read, storable_reason
from .wake import PROCESS_TASK, PROCESSOR_LEASE_MS, WAKE_FLAG, processor_leases

logger = logging.getLogger(__name__)

# Processing retries: a deadlock or a database restart heals in seconds; a bug does not.
# The first retry is quick: two batches that deadlock on each other's rows lose one
# delivery for a moment, not for minutes.
PROCESS_BACKOFF = [timedelta(seconds=s) for s in (2, 10, 60, 300, 1800, 7200, 21600)]
STUCK_AFTER = timedelta(seconds=30)


def _ready(now) -> Q:
    return Q(status=InboundStatus.RECEIVED) | Q(
        status=InboundStatus.FAILED, next_attempt_at__lte=now
    )


def _claimable():
    # of=self: the join must not lock the channel row too, or every other event of the
    # channel would be skipped while this one is processed.
    return InboundEvent.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
        "channel"
    )


def inbox_process(*, event_id: int) -> str | None:
    """Apply one stored delivery (received, or failed and retried by hand or by the
    sweeper). Idempotent: a processed event is left alone, and a worker already holding
    the row makes this call a no-op."""
    events = _process(_claimable_one(event_id))
    return events[0].status if events else None


def inbox_process_waiting(*, batch_size: int | None = None, max_batches: int = 40) -> int:
    """Apply what waits in the inbox, oldest first, `batch_size` deliveries per
    transaction, until nothing is left and no delivery asked for another round (or after
    `max_batches`, when another task is queued to let other tasks in between). Returns how
    many deliveries were handled; 0 at once when every processor slot is taken."""
    size = batch_size or settings.INBOX_BATCH_SIZE
    handled = 0
    batches = 0
    while (lease := lease_take_any(processor_leases(), PROCESSOR_LEASE_MS)) is not None:
        try:
            flag_clear(WAKE_FLAG)  # a delivery committed from now on asks for another round
            while batches < max_batches:
                batches += 1
                lease_renew(lease, PROCESSOR_LEASE_MS)
                events = _process(_claimable().filter(_ready(timezone.now())).order_by("id")[:size])
                handled += len(events)
                if len(events) < size:
                    break
        finally:
            lease_release(lease)
        if batches >= max_batches:
            enqueue(PROCESS_TASK)  # more is waiting
            return handled
        if not flag_is_raised(WAKE_FLAG):  # looked at after letting go: nothing is missed
            return handled
    return handled


def _process(claim) -> list[InboundEvent]:
    """Apply the claimed deliveries in one transaction; stock movements of the batch
    recompute each touched listing once, at the end.

    A batch is all or nothing: if anything fails (a delivery, or a step the batch shares:
    the SKU lookup, the stock locks, the outbox refresh, the sales record), the whole
    transaction rolls back and each delivery is applied again on its own. Alone, a
    delivery runs inside a savepoint, and if it fails after all (its own shared steps
    included), the failure is recorded on its row and retried with backoff: no input can
    hold the others back."""
    claimed: list[int] = []
    try:
        with transaction.atomic():
            events = list(claim)
            if not events:
                return []
            claimed = [event.pk for event in events]
            context = _BatchContext.prefetch(events)
            alone = len(events) == 1
            batched = contextlib.nullcontext() if alone else context.stock_batch(events)
            with outbox_refresh_batched(), batched:
                for event in events:
                    _process_one(event, context, alone=alone)
                context.record_sales()
            update_each(InboundEvent, events, PROCESSED_FIELDS)
    except Exception as exc:
        if not claimed:
            raise  # the claim itself failed: the database is unwell, not a delivery
        if len(claimed) == 1:
            return _record_failure(claimed[0], exc)
        logger.warning(
            "a batch of %s deliveries failed (%s); applying each alone", len(claimed), exc
        )
        return [event for pk in claimed for event in _process(_claimable_one(pk))]
    for event in events:
        EVENTS.labels(channel=event.channel.slug, status=event.status).inc()
        if event.status == InboundStatus.UNREADABLE:
            UNREADABLE.labels(kind=event.channel.kind).inc()
    return events


def _record_failure(event_id: int, exc: BaseException) -> list[InboundEvent]:
    """A delivery applied alone failed outside its savepoint (in a step its transaction
    shares with nobody now): record it on its row, in a transaction of its own."""
    logger.error("processing inbound event %s failed", event_id, exc_info=exc)
    with transaction.atomic():
        event = _claimable_one(event_id).first()
        if event is None:  # taken by another worker meanwhile
            return []
        event.attempts += 1
        _fail(event, exc)
        event.save(update_fields=PROCESSED_FIELDS)
    EVENTS.labels(channel=event.channel.slug, status=event.status).inc()
    return [event]


def _fail(event: InboundEvent, exc: BaseException) -> None:
    """Failed: retried with backoff, then dead (parked for a person)."""
    event.error = _storable(f"{type(exc).__name__}: {exc}")[:2000]
    if event.attempts > len(PROCESS_BACKOFF):
        event.status, event.next_attempt_at = InboundStatus.DEAD, None
    else:
        event.status = InboundStatus.FAILED
        event.next_attempt_at = timezone.now() + PROCESS_BACKOFF[event.attempts - 1]


def _storable(text: str) -> str:
    """An error message may quote the poison itself: PostgreSQL text holds no NUL, and
    UTF-8 no lone surrogate (which JSON's \\ud800 escapes produce)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _claimable_one(event_id: int):
    return _claimable().filter(
        pk=event_id, status__in=[InboundStatus.RECEIVED, InboundStatus.FAILED]
    )


PROCESSED_FIELDS = [
    "status",
    "attempts",
    "error",
    "unmapped_skus",
    "processed_at",
    "next_attempt_at",
]


class _BatchFailed(Exception):
    """A delivery of a batch failed (named in the message, the error as its cause): the
    batch is rolled back and applied one by one."""


@dataclass
class _BatchContext:
    """What one batch transaction looks up once: parsed deliveries, their SKUs, and the
    channels' fulfilment locations."""

    parsed: dict[int, list | Exception] = field(default_factory=dict)
    skus: dict[str, Sku] = field(default_factory=dict)
    locations: dict[int, list] = field(default_factory=dict)
    # Units sold on a channel, by (channel id, SKU id): of the delivery being applied
    # (kept only if it applies), and of the batch's applied deliveries.
    delivery_sales: Counter = field(default_factory=Counter)
    sales: Counter = field(default_factory=Counter)
    # Order lines read from the channel for notifications that name only the order.
    orders: dict = field(default_factory=dict)

    @classmethod
    def prefetch(cls, events: list[InboundEvent]) -> _BatchContext:
        context = cls()
        codes: set[str] = set()
        for event in events:
            try:
                payload = json.loads(event.body) if event.body else {}
                canonical = delivery_read(event.channel.kind, event.topic, payload)
                canonical = orders_fetched(event.channel, canonical, context.orders)
            except Exception as exc:  # noqa: BLE001 - raised again when the event is applied
                context.parsed[event.pk] = exc
                continue
            context.parsed[event.pk] = canonical
            for item in canonical:
                if isinstance(item, OrderEvent):
                    codes.update(normalize_sku_code(line.sku) for line in item.lines)
        if codes:
            context.skus = {sku.code_key: sku for sku in Sku.objects.filter(code_key__in=codes)}
        return context

    def stock_batch(self, events: list[InboundEvent]):
        """Lock up front, in id order, every stock level the batch's orders can move (each
        mapped SKU at each of its channel's fulfilment locations): batches applied by
        concurrent workers then never deadlock on stock levels."""
        pairs = set()
        for event in events:
            parsed = self.parsed[event.pk]
            if isinstance(parsed, Exception):
                continue
            places = None
            for item in parsed:
                if not isinstance(item, OrderEvent):
                    continue
                places = places or self.locations_of(event.channel)
                for line in item.lines:
                    sku = self.skus.get(normalize_sku_code(line.sku))
                    if sku is not None:
                        pairs.update((sku.pk, place.pk) for place in places)
        return stock_operations_batched(sorted(pairs))

    def canonical(self, event: InboundEvent) -> list:
        parsed = self.parsed[event.pk]
        if isinstance(parsed, Exception):
            raise parsed
        return parsed

    def locations_of(self, channel: Channel) -> list:
        if channel.pk not in self.locations:
            self.locations[channel.pk] = channel_locations(channel=channel)
        return self.locations[channel.pk]

    def record_sales(self) -> None:
        """A sale on a channel took the units off that channel's own count, so its listing
        shows that much less than the hub last confirmed. Say so on the listing, then queue
        a push for it even when the published quantity did not move (a fixed or capped
        allocation), or the channel would go on offering less than it may; compare-and-set
        then also compares against what the channel shows."""
        if not self.sales:
            return
        table = Listing._meta.db_table
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET confirmed = CASE WHEN confirmed > %s THEN confirmed - %s "
                "ELSE 0 END WHERE channel_id = %s AND sku_id = %s AND confirmed IS NOT NULL",
                [
                    (sold, sold, channel_id, sku_id)
                    for (channel_id, sku_id), sold in self.sales.items()
                ],
            )
        outbox_recheck(self.sales)


def _process_one(event: InboundEvent, context: _BatchContext, *, alone: bool) -> None:
    event.attempts += 1
    context.delivery_sales.clear()
    try:
        if alone:
            with transaction.atomic():
                status, unmapped = _apply(event, context)
        else:
            try:
                status, unmapped = _apply(event, context)
            except Unreadable:
                raise  # raised before the delivery wrote anything: the batch goes on
            except Exception as exc:
                raise _BatchFailed(f"delivery {event.pk}: {type(exc).__name__}: {exc}") from exc
    except Unreadable as exc:
        # Stored as readable, but this hub cannot read it (a parser changed since, or a
        # row stored before unknown topics were parked): parked for a person, unapplied.
        event.status, event.error = InboundStatus.UNREADABLE, storable_reason(exc.reason)
        event.next_attempt_at = None
    except WebhookRejected as exc:
        # Verified at the door but unusable: retrying cannot help.
        event.status, event.error = InboundStatus.DEAD, _storable(str(exc))[:2000]
    except _BatchFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
        logger.exception("processing inbound event %s failed", event.pk)
        _fail(event, exc)
    else:
        event.status, event.unmapped_skus, event.error = status, unmapped, ""
        event.processed_at = timezone.now()
        event.next_attempt_at = None
        context.sales.update(context.delivery_sales)


def inbox_sweep(*, now=None) -> int:
    """Queue processing for deliveries a lost broker message left in `received`, and for
    failed ones whose retry time has come. Returns how many are waiting."""
    now = now or timezone.now()
    waiting = InboundEvent.objects.filter(
        Q(status=InboundStatus.RECEIVED, received_at__lt=now - STUCK_AFTER)
        | Q(status=InboundStatus.FAILED, next_attempt_at__lte=now)
    ).count()
    if waiting:
        enqueue(PROCESS_TASK)
    return waiting


# --- applying canonical events ----------------------------------------------------------


def _apply(event: InboundEvent, context: _BatchContext) -> tuple[str, list[str]]:
    canonical = context.canonical(event)
    unmapped: list[str] = []
    statuses: list[str] = []
    for item in canonical:
        if isinstance(item, OrderEvent):
            unmapped += order_event_apply(event, item, context)
        elif isinstance(item, LevelReported):
            status = _apply_level_report(event, item)
            if status == InboundStatus.UNMAPPED:
                unmapped.append(item.sku or f"external:{item.external_id}")
            statuses.append(status)
    if unmapped:
        return InboundStatus.UNMAPPED, sorted(set(unmapped))
    ignored = (InboundStatus.IGNORED_STALE, InboundStatus.IGNORED_OTHER_LOCATION)
    if statuses and statuses[0] in ignored and all(s == statuses[0] for s in statuses):
        return statuses[0], []
    if not canonical and event.topic:
        logger.info("inbound event %s: topic %s carries nothing to apply", event.pk, event.topic)
    return InboundStatus.PROCESSED, []


def _apply_level_report(event: InboundEvent, report: LevelReported) -> str:
    """A channel told us its own number. Older than what we saw: stale. Equal to what we
    published: our own echo. Anything else: drift, recorded for review."""
    channel = event.channel
    outbox_refresh_flush()  # earlier deliveries of this batch may have moved its target
    listings = Listing.objects.select_for_update().filter(channel=channel)
    if report.sku:
        listing = listings.filter(sku__code_key=normalize_sku_code(report.sku)).first()
    else:
        listing = listings.filter(external_id=report.external_id).first()
    if listing is None:
        return InboundStatus.UNMAPPED
    published_at = listing.external_location_id or str(
        (channel.settings or {}).get("location_id") or ""
    )
    if not report.concerns_location(published_at):
        return InboundStatus.IGNORED_OTHER_LOCATION
    reported_at = report.occurred_at or event.source_timestamp or event.received_at
    if listing.last_reported_at and reported_at and reported_at < listing.last_reported_at:
        return InboundStatus.IGNORED_STALE
    listing.last_reported, listing.last_reported_at = report.quantity, reported_at
    listing.save(update_fields=["last_reported", "last_reported_at"])
    if report.quantity in (listing.published, listing.confirmed):
        return InboundStatus.PROCESSED
    Drift.objects.create(
        channel=channel,
        listing=listing,
        sku=listing.sku,
        hub_quantity=listing.published,
        channel_quantity=report.quantity,
        source="webhook",
        reasoning=(
            f"{channel.name} reported {report.quantity} for {listing.sku.code} while the hub "
            f"publishes {listing.published} (last confirmed {listing.confirmed}); "
            "a channel-side edit the hub did not make."
        ),
        inbound_event=event,
    )
    return InboundStatus.PROCESSED


def inbox_purge(*, now=None, keep_days: int | None = None) -> int:
    """Delete settled inbox rows older than the retention window (default 30 days:
    senders redeliver for hours to days, and the row is what makes a late redelivery a
    duplicate). Rows still received, failed or dead are kept for a person to see."""
    from django.conf import settings

    now = now or timezone.now()
    days = keep_days if keep_days is not None else settings.INBOX_RETENTION_DAYS
    settled = [
        InboundStatus.PROCESSED,
        InboundStatus.DUPLICATE,
        InboundStatus.IGNORED_STALE,
        InboundStatus.IGNORED_OTHER_LOCATION,
        InboundStatus.UNMAPPED,
        InboundStatus.HANDLED,
    ]
    deleted, _ = InboundEvent.objects.filter(
        status__in=settled, received_at__lt=now - timedelta(days=max(days, 30))
    ).delete()
    return deleted
