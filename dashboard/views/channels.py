"""Dashboard pages for sales channels: the list with its push health, and one channel's
listings with drift (confirmed != published) highlighted.

Views only read and render; one view renders the page and, for htmx, the rows partial.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from channels.models import ListingState
from foundation.permissions import requires

from ..selectors import channel_listing_rows, channel_rows, channel_with_counts
from .common import PAGE_SIZE, wants_partial


@requires({"GET": "channels.view_channel"})
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = list(channel_rows())
    return render(request, "dashboard/channel_list.html", {"channels": channels})


@requires({"GET": ("channels.view_channel", "channels.view_listing")})
@vary_on_headers("HX-Request")
def channel_detail(request: HttpRequest, slug: str) -> HttpResponse:
    channel = channel_with_counts(slug=slug)
    if channel is None:
        raise Http404(f"No channel with slug {slug!r}.")
    drift_only = request.GET.get("drift") == "1"
    listings = channel_listing_rows(channel=channel, drift_only=drift_only)
    page = Paginator(listings, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "channel": channel,
        "page": page,
        "rows": list(page.object_list),
        "drift_only": drift_only,
        "states": ListingState.choices,
    }
    template_name = "dashboard/channel_detail.html"
    if wants_partial(request):
        template_name += "#listing_rows"
    return render(request, template_name, context)
