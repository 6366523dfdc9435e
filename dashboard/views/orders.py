"""Every channel order in one view: its channel, lines (SKU, quantity, state: placed,
fulfilled, cancelled, refunded) and the webhook deliveries behind it; and beside them the
deliveries the hub could not read (`channels.intake.unreadable`), with the reason and the
body, to mark handled or run again."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from channels.intake.unreadable import unreadable_handle, unreadable_retry
from channels.models import Channel, InboundStatus
from channels.selectors import unreadable_waiting
from foundation.errors import DomainError
from foundation.permissions import requires

from ..selectors import ORDER_STATES, order_keys, orders_for_keys, unreadable_rows
from .common import PAGE_SIZE, wants_partial


@requires({"GET": ("channels.view_channelorderline", "channels.view_inboundevent")})
@vary_on_headers("HX-Request")
def orders(request: HttpRequest) -> HttpResponse:
    channel = request.GET.get("channel", "")[:50]
    state = request.GET.get("state", "")
    state = state if state in ORDER_STATES else ""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(order_keys(channel=channel, state=state, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = {k: v for k, v in {"channel": channel, "state": state, "q": search}.items() if v}
    context = {
        "orders": orders_for_keys(list(page.object_list)),
        "page": page,
        "channel": channel,
        "state": state,
        "search": search,
        "states": ORDER_STATES,
        "channels": Channel.objects.order_by("slug").values_list("slug", "name"),
        "pager_query": f"{urlencode(query)}&" if query else "",
        "filtered": bool(query),
        "unreadable_count": unreadable_waiting(),
    }
    template_name = "dashboard/orders.html"
    if wants_partial(request):
        template_name += "#order_rows"
    return render(request, template_name, context)


UNREADABLE_STATUSES = {
    InboundStatus.UNREADABLE: "Waiting for a person",
    InboundStatus.HANDLED: "Handled",
}


@requires({"GET": "channels.view_inboundevent"})
def unreadable(request: HttpRequest) -> HttpResponse:
    """Verified deliveries the hub could not read, newest first, by channel and status."""
    channel = request.GET.get("channel", "")[:50]
    status = request.GET.get("status", InboundStatus.UNREADABLE)
    status = status if status in UNREADABLE_STATUSES else InboundStatus.UNREADABLE
    page = Paginator(unreadable_rows(channel=channel, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = {k: v for k, v in {"channel": channel, "status": status}.items() if v}
    return render(
        request,
        "dashboard/unreadable.html",
        {
            "page": page,
            "rows": list(page.object_list),
            "channel": channel,
            "status": status,
            "statuses": UNREADABLE_STATUSES,
            "channels": Channel.objects.order_by("slug").values_list("slug", "name"),
            "pager_query": f"{urlencode(query)}&",
            "may_act": request.user.has_perm("channels.act_on_dlq"),
        },
    )


ACTIONS = {"handled": unreadable_handle, "retry": unreadable_retry}


@requires({"POST": "channels.act_on_dlq"})
@require_POST
def unreadable_act(request: HttpRequest, pk: int) -> HttpResponse:
    """`action=handled` sets the delivery aside; `action=retry` reads it again."""
    action = ACTIONS.get(request.POST.get("action", ""))
    channel = request.POST.get("channel", "")[:50]
    back = f"{reverse('dashboard:unreadable')}?{urlencode({'channel': channel})}"
    if action is None:
        messages.error(request, "Choose handled or run again.")
        return redirect(back)
    try:
        event = action(event_id=pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if event.status == InboundStatus.HANDLED:
        messages.success(request, f"Delivery {pk} is marked handled; it stays unapplied.")
    elif event.status == InboundStatus.RECEIVED:
        messages.success(request, f"Delivery {pk} reads now: it is being applied.")
    else:
        messages.error(request, f"Delivery {pk} still cannot be read: {event.error}")
    return redirect(back)
