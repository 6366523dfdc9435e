"""The audit trail: one SKU's timeline (inbound events, movements, pushes,
confirmations, drift and decisions, newest first, filtered by kind), and the global log
with filters (SKU, channel, actor, dates), paged by keyset and exported as CSV streamed
row by row, so a year of history never sits in memory."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.vary import vary_on_headers

from channels.models import Channel
from foundation.permissions import requires
from ledger.errors import SkuNotFound
from ledger.services import sku_get

from ..selectors import TRAIL_KINDS, AuditFilters, audit_log_all, audit_log_page, sku_trail
from .common import NOT_ACCEPTED, PAGE_SIZE, wants_partial
from .stock import _sku_or_404

AUDIT_VIEW = ("channels.view_channelaudit", "ledger.view_movement", "channels.view_inboundevent")


@requires({"GET": AUDIT_VIEW})
@vary_on_headers("HX-Request")
def sku_audit(request: HttpRequest, code: str) -> HttpResponse:
    sku = _sku_or_404(code)
    kind = request.GET.get("kind", "")
    if kind not in TRAIL_KINDS:
        kind = ""
    entries = sku_trail(sku=sku, kind=kind)
    context = {
        "sku": sku,
        "entries": entries,
        "kind": kind,
        "kinds": [(key, label) for key, (label, _) in TRAIL_KINDS.items()],
        "as_of": timezone.now(),
    }
    template_name = "dashboard/sku_audit.html"
    if wants_partial(request):
        template_name += "#trail"
    return render(request, template_name, context)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _filters(request: HttpRequest) -> tuple[AuditFilters, dict[str, str]]:
    """The filters from the query string, and a message per filter that was not usable."""
    errors: dict[str, str] = {}
    values = {
        name: request.GET.get(name, "").strip()
        for name in ("sku", "channel", "actor", "since", "until")
    }
    sku = channel = None
    if values["sku"]:
        try:
            sku = sku_get(values["sku"][:200])
        except SkuNotFound:
            errors["sku"] = f"No SKU with code {values['sku'][:100]!r}."
    if values["channel"]:
        channel = Channel.objects.filter(slug=values["channel"][:50]).first()
        if channel is None:
            errors["channel"] = f"No channel {values['channel'][:50]!r}."
    since, until = _day(values["since"]), _day(values["until"])
    if values["since"] and since is None:
        errors["since"] = "Write the date as YYYY-MM-DD, e.g. 2026-03-01."
    if values["until"] and until is None:
        errors["until"] = "Write the date as YYYY-MM-DD, e.g. 2026-03-31."
    if since and until and until < since:
        errors["until"] = "The end date is before the start date."
    tz = timezone.get_current_timezone()
    filters = AuditFilters(
        sku=sku,
        channel=channel,
        actor=values["actor"][:150],
        since=datetime.combine(since, time.min, tzinfo=tz) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz) if until else None,
    )
    return filters, errors


def _cursor(raw: str) -> dict[str, tuple[datetime, int]]:
    """`m~2026-03-01T10:00:00.5+00:00~123,a~...`: per source, the last (time, id) shown."""
    cursor = {}
    for part in raw.split(","):
        name, _, rest = part.partition("~")
        at, _, pk = rest.rpartition("~")
        when = parse_datetime(at) if at else None
        if name in ("m", "a", "e") and when and pk.isdigit():
            cursor[name] = (when, int(pk))
    return cursor


def _cursor_text(cursor: dict[str, tuple[datetime, int]]) -> str:
    return ",".join(f"{name}~{at.isoformat()}~{pk}" for name, (at, pk) in sorted(cursor.items()))


@requires({"GET": AUDIT_VIEW})
@vary_on_headers("HX-Request")
def audit_log(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    query = {k: v for k, v in filters.as_query().items() if v}
    if request.GET.get("actor"):
        query["actor"] = filters.actor
    entries, more, after = [], False, ""
    if not errors:
        entries, next_cursor, more = audit_log_page(
            filters=filters, cursor=_cursor(request.GET.get("after", "")), size=PAGE_SIZE
        )
        after = _cursor_text(next_cursor)
    context = {
        "entries": entries,
        "more": more,
        "older_query": urlencode({**query, "after": after}),
        "query": urlencode(query),
        "values": {
            name: request.GET.get(name, "")
            for name in ("sku", "channel", "actor", "since", "until")
        },
        "errors": errors,
        "paged": bool(request.GET.get("after")),
        "channels": Channel.objects.order_by("slug").values_list("slug", "name"),
    }
    template_name = "dashboard/audit_log.html"
    if wants_partial(request):
        template_name += "#log_rows"
    return render(request, template_name, context, status=NOT_ACCEPTED if errors else 200)


class _Echo:
    def write(self, value: str) -> str:
        return value


@requires({"GET": AUDIT_VIEW})
def audit_export(request: HttpRequest) -> HttpResponse:
    """Every entry the filters match, as CSV, streamed while it is read."""
    filters, errors = _filters(request)
    if errors:
        return HttpResponse(
            "The export was not made: " + " ".join(errors.values()) + "\n",
            status=NOT_ACCEPTED,
            content_type="text/plain; charset=utf-8",
        )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["at", "type", "sku", "channel", "actor", "summary", "id"])
        for entry in audit_log_all(filters=filters):
            yield writer.writerow(
                [
                    entry["at"].isoformat(),
                    entry["type"],
                    entry["sku"],
                    entry["channel"],
                    entry["actor"],
                    _cell(entry["summary"]),
                    entry["id"],
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


def _cell(text: str) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
