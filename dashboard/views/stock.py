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

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from channels.health import loop_health
from foundation.errors import DomainError
from foundation.permissions import requires
from ledger.errors import SkuNotFound
from ledger.models import Location, MovementKind, Reservation, Sku, Source
from ledger.selectors import (
    location_choices,
    sku_count,
    sku_exists,
    sku_levels,
    sku_movements,
    sku_open_reservations,
)
from ledger.services import (
    Origin,
    location_default,
    movement_record,
    reservation_release,
    reservation_ship,
    sku_create,
    sku_get,
)

from ..forms import KIND_CHOICES, MovementForm, SkuForm
from ..paging import next_page
from ..selectors import sku_listings, sku_rows
from ..wording import push_error_in_words
from .common import HISTORY_LIMIT, NOT_ACCEPTED, PAGE_SIZE, units, wants_partial


def _sku_or_404(code: str) -> Sku:
    try:
        return sku_get(code)
    except SkuNotFound as exc:
        raise Http404(exc.message) from None


# --- overview ---------------------------------------------------------------------------


@requires({"GET": ("ledger.view_sku", "channels.view_listing")})
@vary_on_headers("HX-Request")
def overview(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    # No COUNT of the list: a "next page" pager; the total shown is the catalogue's (an
    # estimate above ledger.selectors.SKU_COUNT_EXACT_BELOW), none while searching.
    page = next_page(sku_rows(search=search), request.GET.get("page"), size=PAGE_SIZE)
    rows = page.object_list
    total, estimated = sku_count() if not search else (None, False)
    context = {
        "search": search,
        "total": total,
        "total_estimated": estimated,
        "pager_query": f"{urlencode({'q': search})}&" if search else "",
        "page": page,
        "rows": rows,
        "as_of": timezone.now(),
        # Only an empty result needs to know whether the catalogue itself is empty.
        "catalogue_empty": not rows and (not search or not sku_exists()),
    }
    template_name = "dashboard/overview.html"
    part = request.GET.get("part")
    if wants_partial(request) and part == "health":
        context["health"] = loop_health()
        template_name += "#health"
    elif wants_partial(request):
        template_name += "#sku_rows"
    else:
        context["health"] = loop_health()
    return render(request, template_name, context)


# --- SKU page ---------------------------------------------------------------------------


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
    operation = movement_record(
        kind=kind,
        sku=sku,
        quantity=quantity,
        location=place,
        to_location=data.get("to_location"),
        origin=origin,
    )
    if kind == MovementKind.TRANSFER:
        done = f"Moved {units(quantity)} from {place.name} to {data['to_location'].name}."
    elif kind == MovementKind.COUNT:
        delta = operation.result.get("delta", 0)
        change = f"on hand changed by {delta:+d}" if delta else "no change"
        done = f"Counted {units(quantity)} at {place.name}: {change}."
    elif kind == MovementKind.ADJUSTMENT:
        why = f" ({data['reason']})" if data.get("reason") else ""
        done = f"Adjusted on hand at {place.name} by {quantity:+d}{why}."
    elif kind == MovementKind.RETURN:
        done = f"Returned {units(quantity)} to the shelf at {place.name}."
    else:
        done = f"Received {units(quantity)} at {place.name}."
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
    listings = sku_listings(sku=sku)
    for listing in listings:
        listing.waiting_words = push_error_in_words(listing.waiting_reason or "")
    return {
        "sku": sku,
        "levels": levels,
        "totals": {"on_hand": on_hand, "committed": committed, "available": on_hand - committed},
        "listings": listings,
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


@requires({"GET": ("ledger.view_sku", "channels.view_listing"), "POST": "ledger.record_movement"})
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def sku_detail(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the SKU's page. POST: record a movement (receipt, adjustment, count, return,
    transfer) through its service and re-render the stock partial."""
    sku = _sku_or_404(code)
    locations = _locations()
    if request.method == "GET":
        context = _stock_context(sku=sku, form=_fresh_form(locations))
        if wants_partial(request) and request.GET.get("part") == "live":
            # The poller: numbers, listings, reservations and history, swapped in by id.
            return render(request, "dashboard/sku_detail.html#live", context)
        return _render_stock(request, context)

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


@requires({"POST": "ledger.change_reservation"})
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
        notice = f"{verb} {units(reservation.quantity)} reserved for order {reservation.order_id}."
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


@requires({"GET": "ledger.add_sku", "POST": "ledger.add_sku"})
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
