"""Prometheus metrics (/metrics).

Counters and histograms are recorded where things happen (web and worker processes);
with PROMETHEUS_MULTIPROC_DIR set (the Procfile sets it) every process writes to that
directory and /metrics aggregates them. Backlog gauges are read from the database at
scrape time, so they are right whichever process answers.

A label is a time series kept forever, so label values come from a closed set: the
`channel` label of webhook deliveries is the slug only for a channel that exists, and
"(unknown)" for anything a stranger typed into the URL. /metrics itself is for operators
(inventory_hub/access.py).
"""

from __future__ import annotations

import os

from django.apps import apps
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

from .access import may_read_metrics

UNKNOWN_CHANNEL = "(unknown)"  # not a valid slug, so never a real channel's label
_known_channels: set[str] = set()


def channel_label(slug: str) -> str:
    """The slug if such a channel exists (remembered once seen), else "(unknown)".

    A known slug costs a set lookup; an unknown one an indexed query, on a
    request that is being refused anyway. A deleted channel keeps its label until the
    process restarts, which bounds the set by the channels that ever existed.
    """
    if slug in _known_channels:
        return slug
    # Looked up by name: the channels app imports this module for its counters.
    channel_model = apps.get_model("channels", "Channel")
    if channel_model.objects.filter(slug=slug).exists():
        _known_channels.add(slug)
        return slug
    return UNKNOWN_CHANNEL


class ChannelCounter(Counter):
    """A counter whose `channel` label passes through channel_label()."""

    def labels(self, *labelvalues, **labelkwargs):
        if "channel" in labelkwargs:
            labelkwargs["channel"] = channel_label(str(labelkwargs["channel"]))
        elif labelvalues:
            labelvalues = (channel_label(str(labelvalues[0])), *labelvalues[1:])
        return super().labels(*labelvalues, **labelkwargs)


WEBHOOKS = ChannelCounter(
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
