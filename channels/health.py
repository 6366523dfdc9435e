"""Numbers for /healthz and the dashboard header."""

from ledger.selectors import open_incident_count

from .models import Channel
from .selectors import dlq_size, outbox_backlog


def loop_health() -> dict:
    last_reconcile = (
        Channel.objects.exclude(last_reconciled_at=None)
        .order_by("-last_reconciled_at")
        .values_list("last_reconciled_at", flat=True)
        .first()
    )
    return {
        "last_reconcile_at": last_reconcile,
        "last_digest_at": None,
        "outbox_backlog": outbox_backlog(),
        "dlq_size": dlq_size(),
        "open_incidents": open_incident_count(),
        "inbox_backlog": None,
    }
