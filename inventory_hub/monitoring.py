"""GET /metrics for operators: the recorded metrics (all processes' with
PROMETHEUS_MULTIPROC_DIR) and backlog gauges read from the database at scrape time, so
they are right whichever process answers. Open only to the metrics token or an allowed
network (`access`)."""

from __future__ import annotations

import os

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from channels.health import loop_health, waiting_for_people
from foundation.access import may_read_metrics


class BacklogCollector:
    """Outbox backlog, DLQ size, inbox backlog, open incidents, unreadable deliveries
    waiting and channels needing action, from the database."""

    def collect(self):
        try:
            health = {**loop_health(), **waiting_for_people()}
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
        for name, value, help_text in [
            (
                "unreadable_waiting",
                health.get("unreadable_deliveries"),
                "Verified deliveries parked as unreadable, waiting for a person.",
            ),
            (
                "channels_needing_action",
                len(health.get("channels_needing_action") or []),
                "Enabled channels whose pushes wait until their merchant acts.",
            ),
        ]:
            if value is not None:
                gauge = GaugeMetricFamily(f"inventory_hub_{name}", help_text)
                gauge.add_metric([], value)
                yield gauge


def metrics_view(request) -> HttpResponse:
    if not may_read_metrics(request):
        return HttpResponse(
            "Metrics are for operators: send the metrics token or scrape from an allowed "
            "network.\n",
            status=403,
            content_type="text/plain",
        )
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
