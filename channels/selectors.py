"""Reads for channels, listings and the outbox; fixed query counts."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from foundation.errors import NotFound
from ledger.models import Location, Sku

from .models import (
    Channel,
    ChannelLocation,
    InboundEvent,
    InboundStatus,
    Listing,
    OutboxEntry,
    OutboxStatus,
)


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


def drift_list(
    *, status: str = "", severity: str = "", channel: str = "", sku: str = ""
) -> QuerySet:
    from ledger.models import normalize_sku_code

    from .models import Drift

    rows = Drift.objects.select_related("channel", "sku", "decided_by").order_by("-detected_at")
    if status:
        rows = rows.filter(status=status)
    if severity:
        rows = rows.filter(severity=severity)
    if channel:
        rows = rows.filter(channel__slug=channel)
    if sku:
        rows = rows.filter(sku__code_key=normalize_sku_code(sku))
    return rows


def sku_audit_trail(*, sku: Sku, limit: int = 500) -> list[dict]:
    """Every inbound event, movement, push, confirmation and decision for a SKU, newest
    first. A fixed number of queries whatever the history's size."""
    from ledger.models import Movement

    from .models import ChannelAudit, Drift, InboundEvent

    entries: list[dict] = []
    movements = list(
        Movement.objects.filter(sku=sku).select_related("location", "actor").order_by("-id")[:limit]
    )
    for m in movements:
        entries.append(
            {
                "at": m.recorded_at,
                "type": "movement",
                "kind": m.kind,
                "channel": m.source_ref.split(":")[0] if m.source == "channel" else None,
                "actor": m.actor.get_username() if m.actor else None,
                "summary": f"{m.kind} at {m.location.code}: on hand {m.on_hand_delta:+}, "
                f"committed {m.committed_delta:+} (now {m.on_hand_after}/{m.committed_after})",
                "data": {
                    "movement_id": m.pk,
                    "source": m.source,
                    "reason": m.reason,
                    "inbound_event_id": m.inbound_event_id,
                },
            }
        )
    event_ids = {m.inbound_event_id for m in movements if m.inbound_event_id}
    for event in InboundEvent.objects.filter(pk__in=event_ids).select_related("channel"):
        entries.append(
            {
                "at": event.received_at,
                "type": "inbound_event",
                "kind": event.topic,
                "channel": event.channel.slug,
                "actor": None,
                "summary": f"{event.channel.slug} sent {event.topic} ({event.status})",
                "data": {
                    "event_id": event.pk,
                    "dedupe_key": event.dedupe_key,
                    "status": event.status,
                },
            }
        )
    for audit in ChannelAudit.objects.filter(sku=sku).select_related("channel", "actor")[:limit]:
        entries.append(
            {
                "at": audit.created_at,
                "type": audit.kind,
                "kind": audit.kind,
                "channel": audit.channel.slug,
                "actor": audit.actor.get_username() if audit.actor else None,
                "summary": audit.message,
                "data": audit.data,
            }
        )
    confirmed = (
        OutboxEntry.objects.filter(listing__sku=sku, status=OutboxStatus.CONFIRMED)
        .select_related("channel")
        .order_by("-confirmed_at")[:limit]
    )
    for entry in confirmed:
        entries.append(
            {
                "at": entry.confirmed_at,
                "type": "confirm",
                "kind": "confirm",
                "channel": entry.channel.slug,
                "actor": None,
                "summary": f"{entry.channel.slug} confirmed {entry.quantity} (read back)",
                "data": {"quantity": entry.quantity, "attempt": entry.attempts},
            }
        )
    for drift in Drift.objects.filter(sku=sku).select_related("channel")[:limit]:
        entries.append(
            {
                "at": drift.detected_at,
                "type": "drift",
                "kind": drift.source,
                "channel": drift.channel.slug,
                "actor": None,
                "summary": drift.reasoning
                or f"hub {drift.hub_quantity}, channel {drift.channel_quantity}",
                "data": {"drift_id": drift.pk, "status": drift.status},
            }
        )
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:limit]


def outbox_entries(
    *, statuses: list[str] | None = None, channel: str = "", sku: str = ""
) -> QuerySet[OutboxEntry]:
    from ledger.models import normalize_sku_code

    entries = OutboxEntry.objects.filter(
        status__in=statuses or [OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    ).select_related("channel", "listing__sku")
    if channel:
        entries = entries.filter(channel__slug=channel)
    if sku:
        entries = entries.filter(listing__sku__code_key=normalize_sku_code(sku))
    return entries.order_by("channel__slug", "priority", "next_attempt_at", "id")


def unreadable_waiting() -> int:
    """Verified deliveries parked as unreadable, waiting for a person."""
    return InboundEvent.objects.filter(status=InboundStatus.UNREADABLE).count()


def channels_needing_action() -> list[dict]:
    """Enabled channels whose pushes wait for their merchant: slug, name, the action in
    words and since when, the longest waiting first."""
    return list(
        Channel.objects.filter(enabled=True)
        .exclude(needs_action="")
        .order_by("needs_action_since", "slug")
        .values("slug", "name", "needs_action", "needs_action_since")
    )
