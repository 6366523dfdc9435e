"""Reads that only the dashboard's pages need, combining the ledger and the channels.
Each costs a fixed number of queries whatever the number of SKUs, channels,
listings, locations or reservations: counts are subqueries, related rows are
`select_related` or prefetched in one query per relation.
"""

from __future__ import annotations

from django.db.models import (
    Count,
    Exists,
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

from channels.models import (
    DRIFT_UNDECIDED,
    AllocationRule,
    Channel,
    Drift,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from ledger.models import (
    Sku,
)
from ledger.selectors import sku_list

WAITING = [OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]

# Drift is one thing: an undecided Drift row (the channel shows a number the hub did not
# publish and no pending push explains). A push on its way is "pending", never drift.
_UNDECIDED = Drift.objects.filter(listing=OuterRef("pk"), status__in=DRIFT_UNDECIDED)
DRIFTING = Q(Exists(_UNDECIDED))
PENDING_PUSH = Q(Exists(OutboxEntry.objects.filter(listing=OuterRef("pk"), status__in=WAITING)))


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
    attempt), `push_pending` (a push queued or in flight), and its undecided drift if any
    (`drift_id`, `drift_observed`: what the channel shows, `drift_status`), in one query."""
    pending = OutboxEntry.objects.filter(listing=OuterRef("pk"), status=OutboxStatus.PENDING)
    drift = _UNDECIDED.order_by("-detected_at")
    return list(
        Listing.objects.filter(sku=sku)
        .select_related("channel")
        .annotate(
            waiting_reason=Subquery(pending.values("last_error")[:1]),
            waiting_until=Subquery(pending.values("next_attempt_at")[:1]),
            push_pending=PENDING_PUSH,
            drift_id=Subquery(drift.values("pk")[:1]),
            drift_observed=Subquery(drift.values("channel_quantity")[:1]),
            drift_status=Subquery(drift.values("status")[:1]),
        )
        .order_by("channel__slug")
    )


# --- channels ---------------------------------------------------------------------------


def channel_rows() -> QuerySet[Channel]:
    """Channels with `listing_count`, `waiting_count` (pushes not yet confirmed: "pending"),
    `dlq_count`, `drift_count` (listings with undecided drift rows),
    `not_on_channel_count` and their default rule prefetched as `default_rules`."""
    return (
        Channel.objects.annotate(
            listing_count=_count(Listing.objects.all(), link="channel"),
            drift_count=_count(Listing.objects.filter(DRIFTING), link="channel"),
            not_on_channel_count=_count(
                Listing.objects.filter(state=ListingState.NOT_ON_CHANNEL), link="channel"
            ),
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
    """The channel's listings with `drift_delta` = what the channel shows - what the hub
    publishes, from the listing's undecided drift row (None without one: a listing whose
    push is on its way is `push_pending`, not drift)."""
    drift = _UNDECIDED.order_by("-detected_at")
    listings = (
        Listing.objects.filter(channel=channel)
        .select_related("sku")
        .annotate(
            drift_delta=Subquery(drift.values("channel_quantity")[:1]) - F("published"),
            push_pending=PENDING_PUSH,
        )
    )
    if drift_only:
        listings = listings.filter(DRIFTING)
    return listings.order_by("sku__code_key")
