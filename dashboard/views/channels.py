"""Dashboard pages for sales channels: the list with its push health, and one channel's
page: its connection (webhook URL, secret, test, enabled), the circuit breaker and the
last failures, charts, and its listings with drift (confirmed != published) highlighted.

Views only read and render; one view renders the page and, for htmx, the partial asked
for (`?part=live` for the numbers that refresh every two seconds).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from channels.models import ListingState
from channels.propagation import breaker
from foundation.permissions import requires

from ..selectors import (
    channel_listing_rows,
    channel_recent_failures,
    channel_rows,
    channel_with_counts,
)
from ..wording import push_error_in_words
from .channel_admin import panel_context
from .common import PAGE_SIZE, wants_partial


@requires({"GET": "channels.view_channel"})
@vary_on_headers("HX-Request")
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = list(channel_rows())
    template_name = "dashboard/channel_list.html"
    if wants_partial(request):
        template_name += "#channel_rows"
    return render(request, template_name, {"channels": channels})


BREAKER_WORDS = {
    "closed": "Closed: pushes flow normally.",
    "open": "Open: most recent pushes failed, so the hub pauses pushes to this channel "
    "(nothing is lost: they wait in the outbox).",
    "half_open": "Half-open: the hub lets one trial push through; success closes it.",
}


@requires({"GET": ("channels.view_channel", "channels.view_listing")})
@vary_on_headers("HX-Request")
def channel_detail(request: HttpRequest, slug: str) -> HttpResponse:
    channel = channel_with_counts(slug=slug)
    if channel is None:
        raise Http404(f"No channel with slug {slug!r}.")
    drift_only = request.GET.get("drift") == "1"
    listings = channel_listing_rows(channel=channel, drift_only=drift_only)
    page = Paginator(listings, PAGE_SIZE).get_page(request.GET.get("page"))
    state = breaker.state(channel.slug)
    failures = channel_recent_failures(channel=channel)
    for failure in failures:
        failure.words = push_error_in_words(failure.message)
    context = {
        "channel": channel,
        "page": page,
        "rows": list(page.object_list),
        "drift_only": drift_only,
        "states": ListingState.choices,
        "breaker": state,
        "breaker_words": BREAKER_WORDS.get(state.state, state.state),
        "failures": failures,
        "pager_query": "drift=1&" if drift_only else "",
    }
    template_name = "dashboard/channel_detail.html"
    if wants_partial(request):
        template_name += "#live" if request.GET.get("part") == "live" else "#listing_rows"
    else:
        context.update(panel_context(request, channel))
        context["new_secret"] = request.session.pop(f"new-secret:{channel.slug}", "")
    return render(request, template_name, context)
