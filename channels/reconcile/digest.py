"""The daily digest: what the reconcile loop did in the last 24 hours, sent every day,
also (especially) when nothing is wrong. The subject says "All clear" when nothing needs
a person; a missing digest is the alarm (`channels.health`).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from ledger.models import IncidentStatus, OversellIncident

from ..models import (
    DRIFT_UNDECIDED,
    Channel,
    Digest,
    Drift,
    DriftStatus,
    Listing,
    OutboxEntry,
    OutboxStatus,
    ReconcileRun,
    ReconcileRunStatus,
)
from ..selectors import unreadable_waiting

# A push waiting longer than this needs a person's look.
STUCK_PUSH = timedelta(minutes=30)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 3)


def digest_numbers(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    runs = ReconcileRun.objects.filter(started_at__gte=since, dry_run=False)
    totals = runs.aggregate(
        checked=Sum("listings_checked"), auto=Sum("auto_corrected"), escalated=Sum("escalated")
    )
    drift_today = Drift.objects.filter(detected_at__gte=since)
    oldest = OutboxEntry.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    ).aggregate(at=Min("enqueued_at"))["at"]
    latencies = [
        (confirmed - enqueued).total_seconds()
        for confirmed, enqueued in OutboxEntry.objects.filter(
            status=OutboxStatus.CONFIRMED, confirmed_at__gte=since
        ).values_list("confirmed_at", "enqueued_at")[:200_000]
    ]
    failed_runs = runs.filter(Q(status=ReconcileRunStatus.FAILED) | Q(errors__gt=0)).count()
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "reconcile_runs": runs.count(),
        "reconcile_runs_with_errors": failed_runs,
        "listings_checked": totals["checked"] or 0,
        "skus_checked": Listing.objects.filter(reconciled_at__gte=since)
        .values("sku_id")
        .distinct()
        .count(),
        "drift_opened": drift_today.count(),
        "auto_corrected": drift_today.filter(status=DriftStatus.AUTO_CORRECTED).count(),
        "escalated": drift_today.filter(status=DriftStatus.ESCALATED).count(),
        "decided": Drift.objects.filter(
            decided_at__gte=since, status__in=[DriftStatus.APPROVED, DriftStatus.REJECTED]
        ).count(),
        "resolved_by_themselves": Drift.objects.filter(
            decided_at__gte=since, status=DriftStatus.RESOLVED
        ).count(),
        "drift_waiting_for_a_person": Drift.objects.filter(status__in=DRIFT_UNDECIDED).count(),
        "dlq_size": OutboxEntry.objects.filter(status=OutboxStatus.DEAD).count(),
        "oldest_pending_push_at": oldest.isoformat() if oldest else None,
        "oldest_pending_push_minutes": round((now - oldest).total_seconds() / 60, 1)
        if oldest
        else None,
        "open_oversells": OversellIncident.objects.filter(status=IncidentStatus.OPEN).count(),
        "propagation_p95_seconds": _p95(latencies),
        "pushes_confirmed": len(latencies),
        "channels_reconciled": runs.values("channel_id").distinct().count(),
        "unreadable_deliveries": unreadable_waiting(),
        # What each channel's merchant must do, in words: [name, action, since].
        "channels_needing_action": [
            [name, action, since.isoformat() if since else None]
            for name, action, since in Channel.objects.filter(enabled=True)
            .exclude(needs_action="")
            .order_by("name")
            .values_list("name", "needs_action", "needs_action_since")
        ],
    }


def needs_a_person(numbers: dict) -> list[str]:
    reasons = [
        f"{name}: {action} (pushes paused)"
        for name, action, _ in numbers.get("channels_needing_action", [])
    ]
    if unreadable := numbers.get("unreadable_deliveries"):
        reasons.append(
            f"{unreadable} delivery(ies) the hub could not read, waiting beside the orders"
        )
    if numbers["drift_waiting_for_a_person"]:
        reasons.append(f"{numbers['drift_waiting_for_a_person']} drift record(s) to decide")
    if numbers["dlq_size"]:
        reasons.append(f"{numbers['dlq_size']} push(es) in the dead-letter queue")
    if numbers["open_oversells"]:
        reasons.append(f"{numbers['open_oversells']} open oversell incident(s)")
    minutes = numbers["oldest_pending_push_minutes"]
    if minutes is not None and minutes > STUCK_PUSH.total_seconds() / 60:
        reasons.append(f"a push has waited {minutes:.0f} minutes")
    if numbers["reconcile_runs_with_errors"]:
        reasons.append(f"{numbers['reconcile_runs_with_errors']} reconcile run(s) had errors")
    if not numbers["reconcile_runs"]:
        reasons.append("no reconcile ran in the last 24 hours")
    return reasons


def _body(numbers: dict, reasons: list[str]) -> str:
    head = (
        "All clear: everything was checked and nothing needs a person."
        if not reasons
        else "Needs a person:\n" + "\n".join(f"  - {reason}" for reason in reasons)
    )
    p95 = numbers["propagation_p95_seconds"]
    lines = [
        head,
        "",
        f"Last 24 hours (until {numbers['until']}):",
        f"  SKUs checked:                {numbers['skus_checked']} "
        f"({numbers['listings_checked']} listings, {numbers['reconcile_runs']} runs)",
        f"  Drift opened:                {numbers['drift_opened']}",
        f"  Auto-corrected:              {numbers['auto_corrected']}",
        f"  Escalated:                   {numbers['escalated']}",
        f"  Decided by people:           {numbers['decided']}",
        f"  Resolved by themselves:      {numbers['resolved_by_themselves']}",
        f"  Drift waiting for a person:  {numbers['drift_waiting_for_a_person']}",
        f"  Dead-letter queue:           {numbers['dlq_size']}",
        f"  Oldest pending push:         {numbers['oldest_pending_push_at'] or 'none'}",
        f"  Open oversells:              {numbers['open_oversells']}",
        f"  Unreadable deliveries:       {numbers['unreadable_deliveries']}",
        f"  Channels needing action:     {len(numbers['channels_needing_action'])}",
        f"  Propagation p95:             {f'{p95:.2f} s' if p95 is not None else 'no pushes'}"
        f" ({numbers['pushes_confirmed']} confirmed)",
        "",
        "This mail comes every day. If it does not come, the reconcile loop is not running.",
    ]
    return "\n".join(lines)


def digest_recipients() -> list[str]:
    if settings.DIGEST_RECIPIENTS:
        return list(settings.DIGEST_RECIPIENTS)
    admins = (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name="Admin"), is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    return sorted(admins) or [settings.DEFAULT_FROM_EMAIL]


def digest_send(*, day: date | None = None, now: datetime | None = None) -> Digest | None:
    """Build and send the digest of `day` (today), once: None if it was already sent."""
    now = now or timezone.now()
    day = day or now.date()
    if Digest.objects.filter(day=day).exists():
        return None
    numbers = digest_numbers(now=now)
    reasons = needs_a_person(numbers)
    subject = (
        f"Inventory Hub {day.isoformat()}: All clear"
        if not reasons
        else f"Inventory Hub {day.isoformat()}: {len(reasons)} thing(s) need a person"
    )
    body = _body(numbers, reasons)
    recipients = digest_recipients()
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                day=day,
                all_clear=not reasons,
                subject=subject,
                body=body,
                recipients=recipients,
                data={**numbers, "needs_a_person": reasons},
            )
            # Sent inside the transaction: a mail that fails leaves no row, so the next
            # beat tries again (and /healthz says the digest is missing meanwhile).
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except IntegrityError:
        return None  # another worker sent it
    return digest


def digest_send_due(*, now: datetime | None = None) -> Digest | None:
    """The beat's call: today's digest, once DIGEST_HOUR has passed."""
    now = now or timezone.now()
    if now.hour < settings.DIGEST_HOUR:
        return None
    return digest_send(day=now.date(), now=now)
