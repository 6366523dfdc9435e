"""Reads for channels, listings and the outbox; fixed query counts."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from inventory_hub.errors import NotFound
from ledger.models import Location, Sku

from .models import Channel, ChannelLocation, Listing, OutboxEntry, OutboxStatus


class ChannelNotFound(NotFound):
    code = "channel_not_found"


def channel_get(slug: str) -> Channel:
    try:
        return Channel.objects.get(slug=slug)
    except Channel.DoesNotExist:
        raise ChannelNotFound(f"No channel with slug {slug!r}.", channel=slug) from None


def channel_locations(*, channel: Channel) -> list[Location]:
    """The channel's fulfilment locations in priority order (default: the default one)."""
    places = [
        link.location
        for link in ChannelLocation.objects.filter(channel=channel).select_related("location")
    ]
    return places or list(Location.objects.filter(is_default=True))


def sku_channel_states(*, sku: Sku) -> list[dict]:
    return [
        {
            "channel": listing.channel.slug,
            "published": listing.published,
            "confirmed": listing.confirmed,
            "confirmed_at": listing.confirmed_at,
            "state": listing.state,
        }
        for listing in Listing.objects.filter(sku=sku)
        .select_related("channel")
        .order_by("channel__slug")
    ]


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related("rules", "channellocation_set__location").annotate(
        listing_count=Count("listings", distinct=True)
    )


def listing_list(*, channel: Channel) -> QuerySet[Listing]:
    return Listing.objects.filter(channel=channel).select_related("sku").order_by("sku__code_key")


def outbox_backlog() -> int:
    return OutboxEntry.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    ).count()


def dlq_size() -> int:
    return OutboxEntry.objects.filter(status=OutboxStatus.DEAD).count()


def dlq_entries(*, channel: str | None = None) -> QuerySet[OutboxEntry]:
    entries = OutboxEntry.objects.filter(status=OutboxStatus.DEAD).select_related(
        "listing__sku", "channel"
    )
    if channel:
        entries = entries.filter(channel__slug=channel)
    return entries.order_by("-updated_at")
