"""Numbers for /healthz and the dashboard header, and the loop's alarms: a reconcile
older than twice its channel's interval, or a daily digest that did not go out (the
missing all-clear is the alarm)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from ledger.selectors import open_incident_count

from .models import Channel, Digest
from .selectors import dlq_size, outbox_backlog


def loop_health() -> dict:
    last_reconcile = (
        Channel.objects.exclude(last_reconciled_at=None)
        .order_by("-last_reconciled_at")
        .values_list("last_reconciled_at", flat=True)
        .first()
    )
    last_digest = Digest.objects.order_by("-sent_at").values_list("sent_at", flat=True).first()
    return {
        "last_reconcile_at": last_reconcile,
        "last_digest_at": last_digest,
        "outbox_backlog": outbox_backlog(),
        "dlq_size": dlq_size(),
        "open_incidents": open_incident_count(),
        "inbox_backlog": None,
    }


def loop_alarms(*, now: datetime | None = None) -> list[tuple[str, str]]:
    """Why the reconcile loop looks dead: (code, words) pairs, empty when alive. Codes:
    reconcile_overdue, digest_missed."""
    now = now or timezone.now()
    alarms = []
    for channel in Channel.objects.filter(enabled=True).order_by("slug"):
        interval = timedelta(minutes=max(1, channel.reconcile_interval_minutes))
        since = channel.last_reconciled_at or channel.created_at
        if now - since > 2 * interval:
            last = (
                f"last finished {channel.last_reconciled_at.isoformat()}"
                if channel.last_reconciled_at
                else "never finished"
            )
            alarms.append(
                (
                    "reconcile_overdue",
                    f"reconcile of {channel.slug} is overdue: {last}, interval "
                    f"{channel.reconcile_interval_minutes} min (alarm after twice that)",
                )
            )
    due = digest_due_at(now=now)
    started = Channel.objects.aggregate(first=Min("created_at"))["first"]
    if (
        started is not None
        and started < due
        and not Digest.objects.filter(day__gte=due.date()).exists()
    ):
        alarms.append(
            ("digest_missed", f"the daily digest of {due.date().isoformat()} was not sent")
        )
    return alarms


def digest_due_at(*, now: datetime) -> datetime:
    """The latest digest time whose grace period has passed."""
    grace = timedelta(minutes=settings.DIGEST_GRACE_MINUTES)
    due = now.replace(hour=settings.DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if due + grace > now:
        due -= timedelta(days=1)
    return due
