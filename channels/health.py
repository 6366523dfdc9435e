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
from .selectors import channels_needing_action, dlq_size, outbox_backlog, unreadable_waiting


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


def waiting_for_people() -> dict:
    """What waits for a person without being an alarm (for /healthz and /metrics; the
    dashboard shows them on their own pages): unreadable deliveries, and the channels
    whose pushes wait until their merchant acts."""
    return {
        "unreadable_deliveries": unreadable_waiting(),
        "channels_needing_action": channels_needing_action(),
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
            why = (
                f"skipped while the channel needs action ({channel.needs_action}); "
                if channel.needs_action
                else ""
            )
            alarms.append(
                (
                    "reconcile_overdue",
                    f"reconcile of {channel.slug} is overdue: {why}{last}, interval "
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


def channel_connection_test(*, channel: Channel, sample: int = 3) -> dict:
    """A read through the channel's adapter (a few listings' levels, nothing written):
    does the channel answer, with these credentials? Returns `ok`, `message` (in words),
    `levels` (SKU -> what the channel shows, None for not found) and `elapsed_ms`."""
    import time

    from .adapters.base import ChannelError, ListingRef, adapter_for
    from .models import Listing
    from .tokens import channel_credential_store

    refs = [
        ListingRef(
            sku=listing.sku.code,
            external_id=listing.external_id,
            external_parent_id=listing.external_parent_id,
            external_location_id=listing.external_location_id,
        )
        for listing in Listing.objects.filter(channel=channel)
        .select_related("sku")
        .order_by("sku__code_key")[:sample]
    ] or [ListingRef(sku="CONNECTION-TEST")]
    settings = channel.settings or {}
    started = time.monotonic()
    try:
        with adapter_for(
            channel.kind,
            base_url=settings.get("base_url", ""),
            credentials={"webhook_secret": channel.webhook_secret, **(channel.credentials or {})},
            settings=settings,
            timeout=min(float(settings.get("timeout_seconds", 10)), 10.0),
            credential_store=channel_credential_store(channel),
        ) as adapter:
            levels = adapter.read_levels(refs)
    except ChannelError as exc:
        status = f" (HTTP {exc.status_code})" if getattr(exc, "status_code", None) else ""
        return {
            "ok": False,
            "message": f"{exc}{status}",
            "levels": {},
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
    except Exception as exc:  # a misconfigured channel must not break the page
        return {
            "ok": False,
            "message": f"{type(exc).__name__}: {exc}",
            "levels": {},
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
    return {
        "ok": True,
        "message": "The channel answered.",
        "levels": levels,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }
