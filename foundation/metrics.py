"""The Prometheus metrics the hub records (served at /metrics by `monitoring`).

Counters and histograms are recorded where things happen (web and worker processes);
with PROMETHEUS_MULTIPROC_DIR set (the Procfile sets it) every process writes to that
directory and /metrics aggregates them.

A label is a time series kept forever, so label values come from a closed set: the
`channel` label of webhook deliveries is the slug only for a channel that exists, and
"(unknown)" for anything a stranger typed into the URL. /metrics itself is for operators
(foundation/access.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# The one label of every delivery to a slug that is no channel: labels are never made
# from what an anonymous sender invents. Not a valid slug, so never a real channel's.
UNKNOWN_CHANNEL = "(unknown)"
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
# Labelled by channel kind (a closed set: channels.models.ChannelKind), not by slug: how
# many verified deliveries the hub could not read and parked for a person, counted where
# they were parked (the web request, the Amazon poll or the intake worker).
UNREADABLE = Counter(
    "inventory_hub_unreadable_deliveries_total",
    "Verified deliveries parked as unreadable (unknown topic, missing fields), by kind.",
    ["kind"],
)
