"""Every channel order in one view: its channel, lines (SKU, quantity, state: placed,
fulfilled, cancelled, refunded) and the webhook deliveries behind it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from channels.models import Channel
from foundation.permissions import requires

from ..selectors import ORDER_STATES, order_keys, orders_for_keys
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
    }
    template_name = "dashboard/orders.html"
    if wants_partial(request):
        template_name += "#order_rows"
    return render(request, template_name, context)
