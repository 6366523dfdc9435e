"""Locations: the list, a new location, and renaming or re-prioritising one (priority:
reservations without a location take stock from the lowest first). Each write is one
ledger service call (location_create, location_update)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from foundation.errors import DomainError
from foundation.permissions import requires
from ledger.selectors import location_choices
from ledger.services import location_create, location_update

from ..forms import LocationForm
from .common import NOT_ACCEPTED


def _render(request, *, form=None, notice="", notice_error=False, row_errors=None, status=200):
    context = {
        "locations": location_choices(),
        "form": form or LocationForm(initial={"priority": 100}),
        "notice": notice,
        "notice_error": notice_error,
        "row_errors": row_errors or {},
    }
    template_name = "dashboard/locations.html"
    if request.htmx:
        template_name += "#locations_body"
    return render(request, template_name, context, status=status)


@requires({"GET": "ledger.view_location", "POST": "ledger.add_location"})
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def locations(request: HttpRequest) -> HttpResponse:
    """GET: the list. POST: create a location."""
    if request.method == "GET":
        return _render(request)
    form = LocationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            location = location_create(
                code=data["code"],
                name=data["name"],
                priority=data["priority"] if data["priority"] is not None else 100,
            )
        except DomainError as exc:
            field = exc.detail.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            notice = (
                f"Created {location.name} ({location.code}). Record a receipt there from a "
                "SKU's page; tick it on a channel's settings to sell from it."
            )
            if not request.htmx:
                messages.success(request, notice)
                return redirect("dashboard:locations")
            return _render(request, notice=notice)
    return _render(request, form=form, status=NOT_ACCEPTED)


@requires({"POST": "ledger.change_location"})
@require_POST
def location_change(request: HttpRequest, code: str) -> HttpResponse:
    """Rename and/or re-prioritise one location (one service call)."""
    name = request.POST.get("name", "")
    raw_priority = request.POST.get("priority", "").strip()
    error = ""
    priority = None
    if raw_priority:
        try:
            priority = int(raw_priority)
        except ValueError:
            error = "Priority is a whole number; lower is used first."
    if not error:
        try:
            location = location_update(code=code, name=name, priority=priority)
        except DomainError as exc:
            error = exc.message
    if error:
        if not request.htmx:
            messages.error(request, error)
            return redirect("dashboard:locations")
        return _render(
            request,
            row_errors={code: error},
            notice=f"{code}: nothing was changed. {error}",
            notice_error=True,
            status=NOT_ACCEPTED,
        )
    notice = f"Saved {location.name} ({location.code}), priority {location.priority}."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:locations")
    return _render(request, notice=notice)
