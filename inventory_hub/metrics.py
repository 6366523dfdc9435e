"""Prometheus metrics (/metrics).

Counters and histograms are recorded where things happen (web and worker processes);
with PROMETHEUS_MULTIPROC_DIR set (the Procfile sets it) every process writes to that
directory and /metrics aggregates them. Backlog gauges are read from the database at
scrape time, so they are right whichever process answers.
"""

from __future__ import annotations

import os

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

WEBHOOKS = Counter(
    "inventory_hub_webhooks_total",
    "Webhook deliveries by channel and outcome (accepted, duplicate, rejected status).",
    ["channel", "outcome"],
)
PUSHES = Counter(
    "inventory_hub_pushes_total",
    "Outbox pushes by channel and outcome (confirmed, stale, retry, dead).",
    ["channel", "outcome"],
)
PROPAGATION = Histogram(
    "inventory_hub_propagation_seconds",
    "From the stock change committing to the channel confirming the new quantity.",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
)
EVENTS = Counter(
    "inventory_hub_inbound_events_total",
    "Inbound events processed, by channel and final status.",
    ["channel", "status"],
)


class BacklogCollector:
    """Outbox backlog, DLQ size, inbox backlog and open incidents, from the database."""

    def collect(self):
        from channels.health import loop_health

        try:
            health = loop_health()
        except Exception:  # noqa: BLE001 - a scrape must not fail on a busy database
            return
        for name, help_text in [
            ("outbox_backlog", "Outbox entries pending or in flight."),
            ("dlq_size", "Outbox entries in the dead-letter queue."),
            ("inbox_backlog", "Inbound events received but not yet processed."),
            ("open_incidents", "Open oversell incidents."),
        ]:
            value = health.get(name)
            if value is not None:
                gauge = GaugeMetricFamily(f"inventory_hub_{name}", help_text)
                gauge.add_metric([], value)
                yield gauge


def metrics_view(request) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    output = generate_latest(registry)
    backlog = CollectorRegistry()
    backlog.register(BacklogCollector())
    output += generate_latest(backlog)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
