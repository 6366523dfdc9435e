"""Drift review: the queue with filters (status, severity, channel, SKU), each row's
expected (the hub's number) against observed (the channel's), its reasoning and where it
came from; a person pushes the hub's number, accepts the channel's, or rejects, inline
with a note, or decides many minor rows at once. Decisions are channels.drift services
(one transaction each, audited with the person).

By default the queue shows what waits for a person: open rows and the rows the
investigator escalated (channels.models.DRIFT_UNDECIDED).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from channels.drift import ACCEPT_CHANNEL, PUSH_HUB, drift_approve, drift_reject
from channels.models import DRIFT_UNDECIDED, Channel, Drift, DriftStatus
from channels.selectors import drift_list
from foundation.errors import DomainError
from foundation.permissions import requires

from .common import NOT_ACCEPTED, PAGE_SIZE, wants_partial

SEVERITIES = ["minor", "major", "critical"]
BULK_SEVERITY = "minor"
ACTIONS = {
    PUSH_HUB: "Pushed the hub's number",
    ACCEPT_CHANNEL: "Accepted the channel's number",
    "reject": "Rejected",
}
FILTERS = ("status", "severity", "channel", "sku")
UNDECIDED = "undecided"  # open or escalated: waiting for a person


def _filters(source) -> dict[str, str]:
    values = {name: source.get(name, "").strip()[:100] for name in FILTERS}
    if "status" not in source:
        values["status"] = UNDECIDED
    if values["status"] not in DriftStatus.values and values["status"] not in ("all", UNDECIDED):
        values["status"] = UNDECIDED
    return values


@requires({"GET": "channels.view_drift"})
@vary_on_headers("HX-Request")
def drift_queue(request: HttpRequest) -> HttpResponse:
    return _render(request, _filters(request.GET), page_number=request.GET.get("page"))


def _render(
    request: HttpRequest,
    filters: dict[str, str],
    *,
    page_number=None,
    notice: str = "",
    notice_error: bool = False,
    status: int = 200,
) -> HttpResponse:
    query = {k: v for k, v in filters.items() if v}
    everything = filters["status"] in ("all", UNDECIDED)
    selected = {**filters, "status": "" if everything else filters["status"]}
    rows = drift_list(**selected)
    if filters["status"] == UNDECIDED:
        rows = rows.filter(status__in=DRIFT_UNDECIDED)
    page = Paginator(rows, PAGE_SIZE).get_page(page_number)
    context = {
        "rows": list(page.object_list),
        "page": page,
        "filters": filters,
        "statuses": DriftStatus.choices,
        "undecided": list(DRIFT_UNDECIDED),
        "severities": SEVERITIES,
        "channels": Channel.objects.order_by("slug").values_list("slug", "name"),
        "pager_query": f"{urlencode(query)}&",
        "bulk_severity": BULK_SEVERITY,
        "may_decide": request.user.has_perm("channels.decide_drift"),
        "notice": notice,
        "notice_error": notice_error,
    }
    template_name = "dashboard/drift.html"
    if wants_partial(request):
        template_name += "#drift_rows"
    return render(request, template_name, context, status=status)


def _decide(drift: Drift, action: str, note: str, actor) -> None:
    if action == "reject":
        drift_reject(drift=drift, note=note, actor=actor)
    else:
        drift_approve(drift=drift, action=action, note=note, actor=actor)


@requires({"POST": "channels.decide_drift"})
@require_POST
def drift_decide(request: HttpRequest) -> HttpResponse:
    """`act` is "<push_hub|accept_channel|reject>:<id or 'selected'>"; a single row's
    note is `note-<id>`, a bulk decision's `bulk_note`. Bulk decisions take minor rows
    only (the others need a look each)."""
    filters = _filters(request.POST)
    action, _, what = request.POST.get("act", "").partition(":")
    if action not in ACTIONS:
        return _refuse(
            request, filters, "Choose push the hub's number, accept the channel's, or reject."
        )
    if what == "selected":
        ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
        rows = list(
            Drift.objects.filter(pk__in=ids, severity=BULK_SEVERITY).select_related(
                "channel", "sku"
            )
        )
        if not rows:
            return _refuse(request, filters, f"Tick at least one {BULK_SEVERITY} drift row first.")
        note = request.POST.get("bulk_note", "").strip()
    elif what.isdigit():
        rows = list(Drift.objects.filter(pk=int(what)).select_related("channel", "sku"))
        if not rows:
            return _refuse(request, filters, "That drift row no longer exists.")
        note = request.POST.get(f"note-{what}", "").strip()
    else:
        return _refuse(request, filters, "Choose a drift row or a selection.")
    if len(note) > 500:
        return _refuse(
            request, filters, f"A note is at most 500 characters; this one has {len(note)}."
        )
    done, refused = 0, []
    for drift in rows:
        try:
            _decide(drift, action, note, request.user)
            done += 1
        except DomainError as exc:
            refused.append(exc.message)
    if done == 1 and len(rows) == 1:
        drift = rows[0]
        notice = f"{ACTIONS[action]} for {drift.sku.code} on {drift.channel.slug}."
    else:
        notice = f"{ACTIONS[action]} for {done} drift row{'' if done == 1 else 's'}."
    if refused:
        notice += " Not decided: " + " ".join(refused)
    error = bool(refused) and not done
    if not request.htmx:
        (messages.error if error else messages.success)(request, notice)
        return redirect(f"{request.path.rsplit('decide/', 1)[0]}?{urlencode(filters)}")
    return _render(
        request, filters, notice=notice, notice_error=error, status=NOT_ACCEPTED if error else 200
    )


def _refuse(request: HttpRequest, filters: dict[str, str], message: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, message)
        return redirect(f"{request.path.rsplit('decide/', 1)[0]}?{urlencode(filters)}")
    return _render(request, filters, notice=message, notice_error=True, status=NOT_ACCEPTED)
