"""GET /healthz: proof of life for the database, the broker and the reconcile loop.

"status" is "degraded" (HTTP 503, with the `reasons`) when the database or broker check
fails, when a channel's reconcile is older than twice its interval, or when a daily
digest was missed (`channels.health.loop_alarms`): silence is the alarm. It also counts
what waits for a person without being an alarm: unreadable deliveries, and channels that
need their merchant (named, with the action, for operators under `needs_action`).

Anyone may ask; the database and broker checks say only `{"ok": true|false}` unless the
caller is an operator (the metrics token, or a logged-in staff user), because their
details (transport, latency, error text) name hosts and ports.
"""

from __future__ import annotations

import time

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from channels.health import loop_alarms, loop_health, waiting_for_people
from foundation.access import may_read_health_detail


def _check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - report, never raise
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict:
    from inventory_hub.celery import app

    started = time.monotonic()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)[:200]}
    return {
        "ok": True,
        "transport": str(transport),
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


@never_cache
@require_GET
def healthz(request):
    database = _check_database()
    broker = _check_broker()
    loop = {**loop_health(), **waiting_for_people()} if database["ok"] else {}
    alarms = [] if database["ok"] else [("database", "the database does not answer")]
    if not broker["ok"]:
        alarms.append(("broker", "the broker does not answer"))
    if database["ok"]:
        alarms += loop_alarms()
    degraded = bool(alarms)
    needing = loop.get("channels_needing_action") or []
    detail = may_read_health_detail(request)
    # Strangers learn which check failed, operators also which channel and since when.
    reasons = [text for _, text in alarms]
    if not detail:
        database = {"ok": database["ok"]}
        broker = {"ok": broker["ok"]}
        reasons = sorted({code for code, _ in alarms})
    body = {
        "status": "degraded" if degraded else "ok",
        "reasons": reasons,
        "database": database,
        "broker": broker,
        "last_reconcile_at": loop.get("last_reconcile_at"),
        "last_digest_at": loop.get("last_digest_at"),
        "outbox_backlog": loop.get("outbox_backlog"),
        "dlq_size": loop.get("dlq_size"),
        "open_incidents": loop.get("open_incidents"),
        "inbox_backlog": loop.get("inbox_backlog"),
        # Waiting for a person, not an alarm: counted for everyone, named for operators.
        "unreadable_deliveries": loop.get("unreadable_deliveries"),
        "channels_needing_action": len(needing) if database["ok"] else None,
    }
    if detail:
        body["needs_action"] = [
            {
                "channel": row["slug"],
                "action": row["needs_action"],
                "since": row["needs_action_since"],
            }
            for row in needing
        ]
    return JsonResponse(body, status=503 if degraded else 200)
