"""Dashboard pages for oversell incidents: the list (open first) and resolving one."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from foundation.errors import DomainError
from foundation.permissions import requires
from ledger.models import IncidentStatus
from ledger.selectors import incident_rows
from ledger.services import incident_resolve

from .common import NOT_ACCEPTED, PAGE_SIZE, wants_partial


@requires({"GET": "ledger.view_oversellincident"})
@vary_on_headers("HX-Request")
def incidents(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in IncidentStatus.values:
        status = ""
    return _render_incidents(request, status=status, page_number=request.GET.get("page"))


def _render_incidents(
    request: HttpRequest,
    *,
    status: str,
    page_number=None,
    notice: str = "",
    notice_error: bool = False,
    http_status: int = 200,
) -> HttpResponse:
    page = Paginator(incident_rows(status=status), PAGE_SIZE).get_page(page_number)
    context = {
        "page": page,
        "rows": list(page.object_list),
        "status": status,
        "statuses": IncidentStatus.choices,
        "notice": notice,
        "notice_error": notice_error,
    }
    template_name = "dashboard/incidents.html"
    if wants_partial(request):
        template_name += "#incident_rows"
    return render(request, template_name, context, status=http_status)


@requires({"POST": "ledger.resolve_oversellincident"})
@require_POST
def incident_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A person closes an open incident, saying how (the list comes back, still filtered)."""
    status = request.POST.get("status", "")
    if status not in IncidentStatus.values:
        status = ""
    try:
        incident = incident_resolve(
            incident_id=pk, resolution=request.POST.get("resolution", ""), actor=request.user
        )
    except DomainError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("dashboard:incidents")
        return _render_incidents(
            request, status=status, notice=exc.message, notice_error=True, http_status=NOT_ACCEPTED
        )
    notice = f"Resolved the oversell of {incident.sku.code}: {incident.resolution}"
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:incidents")
    return _render_incidents(request, status=status, notice=notice)
