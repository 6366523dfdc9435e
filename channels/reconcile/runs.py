"""A reconcile run per channel: read the listings' quantities in batches through the
channel's adapter (within its token bucket, above the pushes' reserve), compare each
batch under its locks (`compare.py`), then let the investigator look at the drift.

One run per channel at a time (a Redis lease). A run that dies halfway stays
`running` with its cursor: the next run of the channel picks it up after the cursor,
so nothing is compared or counted twice. The schedule: each channel every
`reconcile_interval_minutes`; the first run after RECONCILE_FULL_PASS_HOUR each day is
the full-catalogue pass (it also reads listings whose channel ids are unknown).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from foundation.queueing import enqueue

from ..adapters.base import ChannelError, ChannelThrottled, ListingRef, adapter_for
from ..models import Channel, Listing, ListingState, ReconcileRun, ReconcileRunStatus
from ..tokens import channel_credential_store
from ..wakeup import lease_release, lease_renew, lease_take
from .budget import reconcile_taker, yield_to_pushes
from .compare import batch_compare
from .decisions import drift_investigate
from .investigate import Investigator

logger = logging.getLogger(__name__)

RECONCILE_TASK = "channels.tasks.reconcile_channel"
LEASE_MS = 5 * 60 * 1000  # renewed every batch
BATCH_ATTEMPTS = 3
Progress = Callable[[int, int], None]


def _lease_key(channel_id: int) -> str:
    return f"reconcile-lease:{channel_id}"


def full_pass_due(channel: Channel, *, now: datetime | None = None) -> bool:
    """True when no full pass has started since today's RECONCILE_FULL_PASS_HOUR."""
    now = now or timezone.now()
    mark = now.replace(hour=settings.RECONCILE_FULL_PASS_HOUR, minute=0, second=0, microsecond=0)
    if mark > now:
        mark -= timedelta(days=1)
    return not ReconcileRun.objects.filter(
        channel=channel, full=True, dry_run=False, started_at__gte=mark
    ).exists()


def _scope(channel: Channel, *, full: bool):
    listings = Listing.objects.filter(channel=channel)
    if not full:
        listings = listings.exclude(state=ListingState.UNMAPPED)
    return listings


def _run_for(channel: Channel, *, full: bool | None, dry_run: bool, trigger: str) -> ReconcileRun:
    """The channel's unfinished run to resume, or a new one."""
    if not dry_run:
        unfinished = (
            ReconcileRun.objects.filter(
                channel=channel, status=ReconcileRunStatus.RUNNING, dry_run=False
            )
            .order_by("-id")
            .first()
        )
        if unfinished is not None:
            unfinished.resumed += 1
            unfinished.save(update_fields=["resumed"])
            return unfinished
    if full is None:
        full = full_pass_due(channel)
    run = ReconcileRun.objects.create(channel=channel, full=full, dry_run=dry_run, trigger=trigger)
    run.listings_total = _scope(channel, full=full).count()
    run.save(update_fields=["listings_total"])
    return run


def reconcile_channel(
    *,
    channel_id: int,
    full: bool | None = None,
    dry_run: bool = False,
    trigger: str = "schedule",
    progress: Progress | None = None,
    investigator: Investigator | None = None,
) -> ReconcileRun | None:
    """Reconcile one channel now. None when it is disabled, needs its merchant (its reads
    would be refused like its pushes: `propagation.attention`) or another worker is on
    it."""
    channel = Channel.objects.filter(pk=channel_id, enabled=True).first()
    if channel is None:
        return None
    if channel.needs_action:
        logger.info("reconcile of %s skipped: needs action: %s", channel.slug, channel.needs_action)
        return None
    lease = lease_take(_lease_key(channel.pk), LEASE_MS)
    if lease is None:
        return None
    try:
        run = _run_for(channel, full=full, dry_run=dry_run, trigger=trigger)
        _run(channel, run, lease, progress=progress, investigator=investigator)
        return run
    finally:
        lease_release(lease)


def _run(channel: Channel, run: ReconcileRun, lease, *, progress, investigator) -> None:
    batch_size = settings.RECONCILE_BATCH_SIZE
    scope = _scope(channel, full=run.full)
    settings_ = channel.settings or {}
    with adapter_for(
        channel.kind,
        base_url=settings_.get("base_url", ""),
        credentials={"webhook_secret": channel.webhook_secret, **(channel.credentials or {})},
        settings=settings_,
        timeout=float(settings_.get("timeout_seconds", 10)),
        throttle=reconcile_taker(channel),
        credential_store=channel_credential_store(channel),
    ) as adapter:
        while True:
            lease_renew(lease, LEASE_MS)
            yield_to_pushes()
            batch = list(
                scope.filter(pk__gt=run.cursor)
                .select_related("sku")
                .order_by("pk")
                .values_list(
                    "pk", "sku__code", "external_id", "external_parent_id", "external_location_id"
                )[:batch_size]
            )
            if not batch:
                break
            refs = [
                ListingRef(sku=code, external_id=e, external_parent_id=p, external_location_id=loc)
                for _, code, e, p, loc in batch
            ]
            read_started = timezone.now()
            shown = _read(adapter, refs, run)
            if shown is None:
                return  # left running: the next run resumes after the cursor
            result = batch_compare(
                run=run,
                channel=channel,
                listing_ids=[row[0] for row in batch],
                shown=shown,
                read_started=read_started,
            )
            if not run.dry_run:
                for drift_id in [*result.drift_new, *result.drift_changed]:
                    _investigate(run, drift_id, investigator)
            if progress is not None:
                progress(run.listings_checked, run.listings_total)
    _finish(channel, run)


def _read(adapter, refs: list[ListingRef], run: ReconcileRun) -> dict[str, int | None] | None:
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return adapter.read_levels(refs)
        except ChannelError as exc:
            run.errors += 1
            run.error_messages = [*run.error_messages, str(exc)[:300]][-20:]
            run.save(update_fields=["errors", "error_messages"])
            logger.warning("reconcile %s: read failed (attempt %s): %s", run.pk, attempt, exc)
            if attempt < BATCH_ATTEMPTS:
                wait = exc.retry_after if isinstance(exc, ChannelThrottled) else None
                time.sleep(min(wait or 2.0 * attempt, 30.0))
    return None


def _investigate(run: ReconcileRun, drift_id: int, investigator) -> None:
    from ..models import DriftStatus

    drift = drift_investigate(drift_id=drift_id, investigator=investigator)
    if drift is None:
        return
    if drift.status == DriftStatus.AUTO_CORRECTED:
        run.auto_corrected += 1
    elif drift.status == DriftStatus.ESCALATED:
        run.escalated += 1
    run.save(update_fields=["auto_corrected", "escalated"])


def _finish(channel: Channel, run: ReconcileRun) -> None:
    now = timezone.now()
    run.status = ReconcileRunStatus.FINISHED
    run.finished_at = now
    run.save(update_fields=["status", "finished_at"])
    if not run.dry_run:
        Channel.objects.filter(pk=channel.pk).update(last_reconciled_at=now)


def reconcile_due(*, now: datetime | None = None) -> list[int]:
    """Enqueue a reconcile for each enabled channel whose interval has passed since its
    last run started, or whose run stopped halfway (resumed). Returns the channel ids."""
    now = now or timezone.now()
    due = []
    for channel in Channel.objects.filter(enabled=True):
        if channel.needs_action:
            logger.info(
                "reconcile of %s skipped: needs action: %s", channel.slug, channel.needs_action
            )
            continue
        last = (
            ReconcileRun.objects.filter(channel=channel, dry_run=False)
            .order_by("-id")
            .values("status", "started_at")
            .first()
        )
        interval = timedelta(minutes=max(1, channel.reconcile_interval_minutes))
        if (
            last is None
            or last["status"] == ReconcileRunStatus.RUNNING
            or now - last["started_at"] >= interval
            or full_pass_due(channel, now=now)
        ):
            due.append(channel.pk)
    for channel_id in due:
        enqueue(RECONCILE_TASK, channel_id)
    return due


def reconcile_runs(*, channel: str = "", status: str = ""):
    runs = ReconcileRun.objects.select_related("channel").order_by("-id")
    if channel:
        runs = runs.filter(channel__slug=channel)
    if status:
        runs = runs.filter(Q(status=status))
    return runs
