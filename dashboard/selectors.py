"""Reads that only the dashboard's pages need, combining the ledger and the channels.
Each costs a fixed number of queries whatever the number of SKUs, channels,
listings, locations or reservations: counts are subqueries, related rows are
`select_related` or prefetched in one query per relation.
"""

from __future__ import annotations

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from channels.models import AllocationRule, Channel, Listing, OutboxEntry, OutboxStatus
from ledger.models import (
    Sku,
)
from ledger.selectors import sku_list

WAITING = [OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]

# Listings whose channel has read back a number different from what it should show.
DRIFTING = Q(confirmed__isnull=False) & ~Q(confirmed=F("published"))


def _count(queryset: QuerySet, *, link: str) -> Coalesce:
    """COUNT(*) of `queryset` rows whose `link` points at the outer row, as a subquery
    (several Count() joins on one query would multiply each other)."""
    return Coalesce(
        Subquery(
            queryset.filter(**{link: OuterRef("pk")})
            .order_by()
            .values(link)
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


# --- SKUs -------------------------------------------------------------------------------


def sku_rows(*, search: str = "") -> QuerySet[Sku]:
    """SKUs with their totals (`total_on_hand`, `total_committed`, `total_available`) and,
    prefetched as `channel_listings`, their listings with channels, ordered by channel slug."""
    skus = sku_list(search=search).annotate(
        total_available=F("total_on_hand") - F("total_committed")
    )
    return skus.prefetch_related(
        Prefetch(
            "listings",
            queryset=Listing.objects.select_related("channel").order_by("channel__slug"),
            to_attr="channel_listings",
        )
    )


def sku_listings(*, sku: Sku) -> list[Listing]:
    """The SKU's listings, each with why its pending push waits, if it does
    (`waiting_reason`, `waiting_until`: the pending outbox row's last error and next
    attempt), in one query."""
    pending = OutboxEntry.objects.filter(listing=OuterRef("pk"), status=OutboxStatus.PENDING)
    return list(
        Listing.objects.filter(sku=sku)
        .select_related("channel")
        .annotate(
            waiting_reason=Subquery(pending.values("last_error")[:1]),
            waiting_until=Subquery(pending.values("next_attempt_at")[:1]),
        )
        .order_by("channel__slug")
    )


# --- channels ---------------------------------------------------------------------------


def channel_rows() -> QuerySet[Channel]:
    """Channels with `listing_count`, `waiting_count` (pushes not yet confirmed),
    `dlq_count`, `drift_count` and their default rule prefetched as `default_rules`."""
    return (
        Channel.objects.annotate(
            listing_count=_count(Listing.objects.all(), link="channel"),
            drift_count=_count(Listing.objects.filter(DRIFTING), link="channel"),
            waiting_count=_count(OutboxEntry.objects.filter(status__in=WAITING), link="channel"),
            dlq_count=_count(OutboxEntry.objects.filter(status=OutboxStatus.DEAD), link="channel"),
        )
        .prefetch_related(
            Prefetch(
                "rules",
                queryset=AllocationRule.objects.filter(sku__isnull=True),
                to_attr="default_rules",
            )
        )
        .order_by("slug")
    )


def channel_with_counts(*, slug: str) -> Channel | None:
    return channel_rows().filter(slug=slug).first()


def channel_listing_rows(*, channel: Channel, drift_only: bool = False) -> QuerySet[Listing]:
    """The channel's listings with `drift_delta` = confirmed - published (None until the
    channel has confirmed a number)."""
    listings = (
        Listing.objects.filter(channel=channel)
        .select_related("sku")
        .annotate(drift_delta=F("confirmed") - F("published"))
    )
    if drift_only:
        listings = listings.filter(DRIFTING)
    return listings.order_by("sku__code_key")
