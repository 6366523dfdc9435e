"""The charts on the overview and the channel pages, drawn on the server as SVG
(dashboard/charts.py) from the database: outbox rows' enqueued_at/confirmed_at for
latency and backlog, audit rows for failures, drift rows per day."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from channels.models import Channel
from foundation.permissions import requires

from ..charts import Series, bar_chart, line_chart
from ..selectors import backlog_by_hour, drift_by_day, latency_by_hour, pushes_by_channel


def _latency(channel: Channel | None) -> dict:
    rows = latency_by_hour(channel=channel)
    labels = [row["hour"].strftime("%H:00") for row in rows]
    count = sum(row["count"] for row in rows)
    return {
        "title": "Propagation latency, last 24 hours",
        "help": "From a stock change to the channel confirming the new number, per hour: the "
        "median push (p50) and the slowest 5% (p95).",
        "empty": "No push was confirmed in the last 24 hours." if not count else "",
        "legend": [("chart-a", "p50"), ("chart-b", "p95")],
        "svg": line_chart(
            title="Propagation latency p50 and p95 per hour, seconds",
            labels=labels,
            series=[
                Series("p50", [row["p50"] for row in rows], "chart-a"),
                Series("p95", [row["p95"] for row in rows], "chart-b"),
            ],
            unit="s",
            every=6,
        ),
    }


def _backlog(channel: Channel | None) -> dict:
    rows = backlog_by_hour(channel=channel)
    return {
        "title": "Backlog, last 24 hours",
        "help": "Pushes waiting for a channel to confirm them, each hour (now on the right).",
        "empty": "",
        "legend": [("chart-a", "waiting pushes")],
        "svg": line_chart(
            title="Outbox backlog per hour",
            labels=[row["at"].strftime("%H:%M") for row in rows],
            series=[Series("waiting pushes", [row["count"] for row in rows], "chart-a")],
            every=6,
        ),
    }


def _drift(channel: Channel | None) -> dict:
    rows = drift_by_day(channel=channel)
    return {
        "title": "Drift per day, last 14 days",
        "help": "Times a channel showed a number the hub did not publish.",
        "empty": "" if any(row["count"] for row in rows) else "No drift in the last 14 days.",
        "legend": [("chart-c", "drift found")],
        "svg": bar_chart(
            title="Drift rows per day",
            labels=[row["day"].strftime("%b %-d") for row in rows],
            series=[Series("drift found", [row["count"] for row in rows], "chart-c")],
            every=3,
        ),
    }


def _pushes() -> dict:
    rows = pushes_by_channel(since=timezone.now() - timedelta(days=1))
    return {
        "title": "Pushes and failures per channel, last 24 hours",
        "help": "Confirmed pushes against failed attempts (each retry counts).",
        "empty": "" if rows else "No channels yet.",
        "legend": [("chart-a", "confirmed"), ("chart-b", "failed attempts")],
        "svg": bar_chart(
            title="Confirmed pushes and failed attempts per channel",
            labels=[row["channel"] for row in rows],
            series=[
                Series("confirmed", [row["confirmed"] for row in rows], "chart-a"),
                Series("failed attempts", [row["failures"] for row in rows], "chart-b"),
            ],
        ),
    }


def overview_charts() -> list[dict]:
    return [_latency(None), _pushes(), _drift(None), _backlog(None)]


def channel_charts(*, channel: Channel) -> list[dict]:
    return [_latency(channel), _backlog(channel), _drift(channel)]


@requires({"GET": ("channels.view_channel", "channels.view_outboxentry")})
def charts(request: HttpRequest) -> HttpResponse:
    """The charts partial, refreshed in place (every 30 s) on the overview and channel pages."""
    slug = request.GET.get("channel", "")
    if slug:
        channel = Channel.objects.filter(slug=slug[:50]).first()
        if channel is None:
            raise Http404(f"No channel with slug {slug!r}.")
        context = {"charts": channel_charts(channel=channel), "chart_channel": channel.slug}
    else:
        context = {"charts": overview_charts(), "chart_channel": ""}
    return render(request, "dashboard/_charts.html", context)
