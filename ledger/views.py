"""Dashboard pages for stock: the overview, a SKU's page (levels, channels, reservations,
history and the movement form), SKU creation and oversell incidents.

Views parse input, call one service and render. One view renders both the page and, for
an htmx request, only the partial that changed (`template_name += "#partial"`). A form
that was not accepted answers 422 (htmx is configured in base.html to swap it), so
scripts and tests can tell "nothing was written" from the status alone.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from channels.dashboard import (
    incident_rows,
    location_choices,
    sku_exists,
    sku_listings,
    sku_open_reservations,
    sku_rows,
)
from channels.health import loop_health
from inventory_hub.errors import DomainError

from .errors import SkuNotFound
from .models import IncidentStatus, Location, MovementKind, Reservation, Sku, Source
from .selectors import sku_levels, sku_movements
from .services import (
    MAX_QUANTITY,
    Origin,
    incident_resolve,
    location_default,
    reservation_release,
    reservation_ship,
    sku_create,
    sku_get,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_return,
    stock_transfer,
)

PAGE_SIZE = 50
HISTORY_LIMIT = 100
NOT_ACCEPTED = 422


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request swapping part of the page; a history restore needs the full page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _sku_or_404(code: str) -> Sku:
    try:
        return sku_get(code)
    except SkuNotFound as exc:
        raise Http404(exc.message) from None


# --- overview ---------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def overview(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(sku_rows(search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    context = {
        "search": search,
        "pager_query": f"{urlencode({'q': search})}&" if search else "",
        "page": page,
        "rows": rows,
        "as_of": timezone.now(),
        # Only an empty result needs to know whether the catalogue itself is empty.
        "catalogue_empty": not rows and (not search or not sku_exists()),
    }
    template_name = "dashboard/overview.html"
    if wants_partial(request):
        template_name += "#sku_rows"
    else:
        context["health"] = loop_health()
    return render(request, template_name, context)


# --- SKU page ---------------------------------------------------------------------------

KIND_CHOICES = [
    (MovementKind.RECEIPT, "Receipt: goods arrived"),
    (MovementKind.ADJUSTMENT, "Adjustment: damaged, lost or found (+/-)"),
    (MovementKind.COUNT, "Count: the number you counted"),
    (MovementKind.RETURN, "Return: back on the shelf"),
    (MovementKind.TRANSFER, "Transfer: to another location"),
]
POSITIVE_ONLY = {
    MovementKind.RECEIPT: "A receipt",
    MovementKind.RETURN: "A return",
    MovementKind.TRANSFER: "A transfer",
}


class MovementForm(forms.Form):
    """What happened to the stock. Checks the input so that the message says what to do;
    the services check the stock rules again under their locks."""

    kind = forms.ChoiceField(
        choices=KIND_CHOICES,
        error_messages={
            "required": "Choose what happened: receipt, adjustment, count, return or transfer.",
            "invalid_choice": "Choose what happened: receipt, adjustment, count, return or "
            "transfer.",
        },
    )
    quantity = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        error_messages={
            "required": "Enter a quantity.",
            "invalid": "The quantity must be a whole number of units, like 5.",
            "min_value": "That is more than a billion units; check the number.",
            "max_value": "That is more than a billion units; check the number.",
        },
    )
    location = forms.CharField(max_length=50, error_messages={"required": "Choose a location."})
    to_location = forms.CharField(max_length=50, required=False)
    reason = forms.CharField(max_length=500, required=False)
    # A fresh key per rendered form: a double click records the movement once.
    request_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, locations: list[Location], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locations = locations
        self._by_code = {location.code: location for location in locations}

    def _location(self, code: str) -> Location:
        location = self._by_code.get(code)
        if location is None:
            raise ValidationError(f"There is no location called {code!r}. Pick one from the list.")
        return location

    def clean_location(self) -> Location:
        return self._location(self.cleaned_data["location"])

    def clean_to_location(self) -> Location | None:
        code = self.cleaned_data["to_location"]
        return self._location(code) if code else None

    def clean(self) -> dict:
        data = super().clean()
        kind, quantity = data.get("kind"), data.get("quantity")
        if quantity is not None and kind is not None:
            if quantity == 0 and kind != MovementKind.COUNT:
                self.add_error(
                    "quantity", "Zero units would change nothing. Enter how many units moved."
                )
            elif quantity < 0 and kind == MovementKind.COUNT:
                self.add_error(
                    "quantity",
                    "A count cannot be negative: enter the number of units you counted "
                    "(0 for an empty shelf).",
                )
            elif quantity < 0 and kind in POSITIVE_ONLY:
                self.add_error(
                    "quantity",
                    f"{POSITIVE_ONLY[kind]} cannot be negative. To take units off the books, "
                    "record an adjustment with a negative number and a reason.",
                )
        if kind == MovementKind.ADJUSTMENT and not data.get("reason"):
            self.add_error(
                "reason", "Say why you adjust (damaged, lost, found...): it stays in the history."
            )
        if kind == MovementKind.TRANSFER and not self.has_error("to_location"):
            source, target = data.get("location"), data.get("to_location")
            if target is None:
                self.add_error("to_location", "Choose the location the units go to.")
            elif source is not None and source.pk == target.pk:
                self.add_error(
                    "to_location",
                    f"The units are already at {source.name}: choose a different location "
                    "to transfer to.",
                )
        return data


def _locations() -> list[Location]:
    # The default location is made by a migration and re-made if someone removed it.
    return location_choices() or [location_default()]


def _fresh_form(locations: list[Location], *, kind: str = "", location: str = "") -> MovementForm:
    default = next((place for place in locations if place.is_default), locations[0])
    return MovementForm(
        locations=locations,
        initial={
            "kind": kind or MovementKind.RECEIPT,
            "location": location or default.code,
            "request_key": uuid.uuid4().hex,
        },
    )


def _units(quantity: int) -> str:
    return f"{quantity} unit" if abs(quantity) == 1 else f"{quantity} units"


def _record_movement(*, sku: Sku, data: dict, request: HttpRequest) -> str:
    """Call the service for this movement; return what happened, in words."""
    kind, quantity, place = data["kind"], data["quantity"], data["location"]
    key = data.get("request_key")
    origin = Origin(
        source=Source.USER,
        actor=request.user,
        reason=data.get("reason", ""),
        idempotency_key=f"web:{request.user.pk}:{key}" if key else None,
    )
    if kind == MovementKind.TRANSFER:
        operation = stock_transfer(
            sku=sku,
            quantity=quantity,
            from_location=place,
            to_location=data["to_location"],
            origin=origin,
        )
        done = f"Moved {_units(quantity)} from {place.name} to {data['to_location'].name}."
    elif kind == MovementKind.COUNT:
        operation = stock_count(sku=sku, counted=quantity, location=place, origin=origin)
        delta = operation.result.get("delta", 0)
        change = f"on hand changed by {delta:+d}" if delta else "no change"
        done = f"Counted {_units(quantity)} at {place.name}: {change}."
    elif kind == MovementKind.ADJUSTMENT:
        operation = stock_adjust(sku=sku, quantity=quantity, location=place, origin=origin)
        done = f"Adjusted on hand at {place.name} by {quantity:+d} ({data['reason']})."
    elif kind == MovementKind.RETURN:
        operation = stock_return(sku=sku, quantity=quantity, location=place, origin=origin)
        done = f"Returned {_units(quantity)} to the shelf at {place.name}."
    else:
        operation = stock_receive(sku=sku, quantity=quantity, location=place, origin=origin)
        done = f"Received {_units(quantity)} at {place.name}."
    if getattr(operation, "replayed", False):
        return "This form was already sent; the movement was recorded once."
    return done


def _stock_context(
    *, sku: Sku, form: MovementForm, notice: str = "", notice_error: bool = False
) -> dict:
    levels = sku_levels(sku=sku)
    on_hand = sum(level.on_hand for level in levels)
    committed = sum(level.committed for level in levels)
    movements = list(sku_movements(sku=sku, limit=HISTORY_LIMIT))
    return {
        "sku": sku,
        "levels": levels,
        "totals": {"on_hand": on_hand, "committed": committed, "available": on_hand - committed},
        "listings": sku_listings(sku=sku),
        "reservations": sku_open_reservations(sku=sku),
        "movements": movements,
        "history_truncated": len(movements) >= HISTORY_LIMIT,
        "history_limit": HISTORY_LIMIT,
        "form": form,
        "kind_choices": KIND_CHOICES,
        "notice": notice,
        "notice_error": notice_error,
        "as_of": timezone.now(),
    }


def _render_stock(
    request: HttpRequest, context: dict, *, status: int = 200, partial: bool | None = None
) -> HttpResponse:
    template_name = "dashboard/sku_detail.html"
    if wants_partial(request) if partial is None else partial:
        template_name += "#stock"
    return render(request, template_name, context, status=status)


@login_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def sku_detail(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the SKU's page. POST: record a movement (receipt, adjustment, count, return,
    transfer) through its service and re-render the stock partial."""
    sku = _sku_or_404(code)
    locations = _locations()
    if request.method == "GET":
        return _render_stock(request, _stock_context(sku=sku, form=_fresh_form(locations)))

    form = MovementForm(request.POST, locations=locations)
    if form.is_valid():
        try:
            done = _record_movement(sku=sku, data=form.cleaned_data, request=request)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                messages.success(request, done)
                return redirect("dashboard:sku", code=sku.code)
            fresh = _fresh_form(
                locations,
                kind=form.cleaned_data["kind"],
                location=form.cleaned_data["location"].code,
            )
            return _render_stock(request, _stock_context(sku=sku, form=fresh, notice=done))
    context = _stock_context(sku=sku, form=form)
    return _render_stock(request, context, status=NOT_ACCEPTED)


@login_required
@require_POST
def reservation_close(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Release (the order was cancelled) or ship (it left the building) a reservation."""
    reservation = get_object_or_404(Reservation.objects.select_related("sku"), pk=pk)
    service, verb = {
        "release": (reservation_release, "Released"),
        "ship": (reservation_ship, "Shipped"),
    }[action]
    origin = Origin(
        source=Source.USER, actor=request.user, reason=f"{verb.lower()} from the dashboard"
    )
    status, error = 200, False
    try:
        service(reservation=reservation, origin=origin)
        notice = f"{verb} {_units(reservation.quantity)} reserved for order {reservation.order_id}."
    except DomainError as exc:
        status, error, notice = NOT_ACCEPTED, True, exc.message
    if not request.htmx:
        (messages.error if error else messages.success)(request, notice)
        return redirect("dashboard:sku", code=reservation.sku.code)
    sku = reservation.sku
    context = _stock_context(
        sku=sku, form=_fresh_form(_locations()), notice=notice, notice_error=error
    )
    return _render_stock(request, context, status=status, partial=True)


# --- new SKU ----------------------------------------------------------------------------


class SkuForm(forms.Form):
    code = forms.CharField(
        max_length=100,
        error_messages={"required": "Enter a SKU code, for example TEE-RED-M."},
    )
    title = forms.CharField(max_length=255, required=False)
    barcode = forms.CharField(max_length=64, required=False)


@login_required
@require_http_methods(["GET", "POST"])
def sku_new(request: HttpRequest) -> HttpResponse:
    form = SkuForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sku = sku_create(**form.cleaned_data)
        except DomainError as exc:
            field = exc.detail.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                f"Created {sku.code}. Record a receipt below to put stock on it; every "
                "channel lists it already.",
            )
            return redirect("dashboard:sku", code=sku.code)
    status = NOT_ACCEPTED if request.method == "POST" else 200
    return render(request, "dashboard/sku_new.html", {"form": form}, status=status)


# --- incidents --------------------------------------------------------------------------


@login_required
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


@login_required
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
