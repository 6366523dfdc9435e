"""Reads that only the dashboard's pages need, combining the ledger and the channels.
Each costs a fixed number of queries whatever the number of SKUs, channels,
listings, locations or reservations: counts are subqueries, related rows are
`select_related` or prefetched in one query per relation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from channels.models import (
    DRIFT_UNDECIDED,
    AllocationRule,
    Channel,
    ChannelAudit,
    ChannelAuditKind,
    ChannelOrderLine,
    Drift,
    InboundEvent,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from channels.selectors import channel_locations, dlq_entries, sku_audit_trail
from ledger.models import Movement, Sku, StockLevel
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


# --- the dead-letter queue --------------------------------------------------------------

FAILURE_KINDS = [ChannelAuditKind.FAIL, ChannelAuditKind.DEAD]


def dlq_rows(*, channel: str = "") -> QuerySet[OutboxEntry]:
    """Dead entries, newest first, with `first_failed_at` and `last_failed_at` (the
    entry's first and last failure audit rows), channel and SKU in one query."""
    failures = ChannelAudit.objects.filter(outbox_entry=OuterRef("pk"), kind__in=FAILURE_KINDS)
    return dlq_entries(channel=channel or None).annotate(
        first_failed_at=Subquery(failures.order_by("id").values("created_at")[:1]),
        last_failed_at=Subquery(failures.order_by("-id").values("created_at")[:1]),
    )


def dlq_channel_counts() -> list[dict]:
    """Channels that have dead entries: slug, name, count (for the by-channel actions)."""
    return list(
        OutboxEntry.objects.filter(status=OutboxStatus.DEAD)
        .values("channel__slug", "channel__name")
        .annotate(n=Count("pk"))
        .order_by("channel__slug")
    )


def dlq_selected(*, ids: list[int], channel: str = "") -> list[OutboxEntry]:
    entries = dlq_entries(channel=channel or None)
    if ids:
        entries = entries.filter(pk__in=ids)
    return list(entries)


# --- channels: breaker, failures, allocation --------------------------------------------


def channel_recent_failures(*, channel: Channel, limit: int = 10) -> list[ChannelAudit]:
    return list(
        ChannelAudit.objects.filter(channel=channel, kind__in=FAILURE_KINDS)
        .select_related("sku")
        .order_by("-id")[:limit]
    )


def channel_default_rule(*, channel: Channel) -> AllocationRule | None:
    return AllocationRule.objects.filter(channel=channel, sku__isnull=True).first()


def channel_overrides(*, channel: Channel) -> list[AllocationRule]:
    return list(
        AllocationRule.objects.filter(channel=channel, sku__isnull=False)
        .select_related("sku")
        .order_by("sku__code_key")
    )


def channel_available(*, channel: Channel, sku_ids: list[int]) -> dict[int, int]:
    """Available (on hand - committed) per SKU, summed over the channel's fulfilment
    locations (the default location when it names none), in one query."""
    locations = [location.pk for location in channel_locations(channel=channel)]
    rows = (
        StockLevel.objects.filter(sku_id__in=sku_ids, location_id__in=locations)
        .values("sku_id")
        .annotate(available=Sum(F("on_hand") - F("committed")))
    )
    found = {row["sku_id"]: row["available"] or 0 for row in rows}
    return {sku_id: found.get(sku_id, 0) for sku_id in sku_ids}


def channel_preview_listings(
    *, channel: Channel, limit: int = 25, sku: Sku | None = None
) -> list[Listing]:
    """The listings a rule preview shows (the first by SKU code, or one SKU's), each with
    `available` over the channel's locations and `override` (its per-SKU rule or None)."""
    listings = Listing.objects.filter(channel=channel).select_related("sku")
    listings = listings.filter(sku=sku) if sku else listings.order_by("sku__code_key")[:limit]
    listings = list(listings)
    available = channel_available(channel=channel, sku_ids=[row.sku_id for row in listings])
    overrides = {
        rule.sku_id: rule
        for rule in AllocationRule.objects.filter(
            channel=channel, sku_id__in=[row.sku_id for row in listings]
        )
    }
    for listing in listings:
        listing.available = available[listing.sku_id]
        listing.override = overrides.get(listing.sku_id)
    return listings


# --- orders -----------------------------------------------------------------------------


def order_line_state(line: ChannelOrderLine) -> str:
    if line.refunded:
        return "refunded"
    if line.cancelled:
        return "cancelled"
    if line.fulfilled:
        return "fulfilled"
    if line.placed:
        return "placed"
    return "unknown"


ORDER_STATES = ["placed", "fulfilled", "cancelled", "refunded"]
_ORDER_STATE_FILTERS = {
    "refunded": Q(refunded=True),
    "cancelled": Q(cancelled=True, refunded=False),
    "fulfilled": Q(fulfilled=True, cancelled=False, refunded=False),
    "placed": Q(placed=True, fulfilled=False, cancelled=False, refunded=False),
}


def order_keys(*, channel: str = "", state: str = "", search: str = "") -> QuerySet:
    """One row per (channel, order): `channel_id`, `order_id`, `last_change`, newest first
    (paginate this, then `orders_for_keys` fetches the page's lines)."""
    lines = ChannelOrderLine.objects.all()
    if channel:
        lines = lines.filter(channel__slug=channel)
    if state in _ORDER_STATE_FILTERS:
        lines = lines.filter(_ORDER_STATE_FILTERS[state])
    if search:
        lines = lines.filter(order_id__icontains=search)
    return (
        lines.values("channel_id", "order_id")
        .annotate(last_change=Max("updated_at"), line_count=Count("pk"))
        .order_by("-last_change", "order_id")
    )


def orders_for_keys(keys: list[dict]) -> list[dict]:
    """The orders of one page: channel, lines (SKU, quantity, state) and the webhook
    deliveries behind them (through the movements they caused), in three queries."""
    if not keys:
        return []
    wanted = Q()
    for key in keys:
        wanted |= Q(channel_id=key["channel_id"], order_id=key["order_id"])
    lines = list(
        ChannelOrderLine.objects.filter(wanted)
        .select_related("channel", "sku")
        .order_by("line_ref", "id")
    )
    by_order: dict[tuple, list] = {}
    for line in lines:
        line.state = order_line_state(line)
        by_order.setdefault((line.channel_id, line.order_id), []).append(line)
    refs = {
        f"{line.channel.slug}:{line.order_id}": (line.channel_id, line.order_id) for line in lines
    }
    events: dict[tuple, dict[int, InboundEvent]] = {}
    movement_events = (
        Movement.objects.filter(source_ref__in=list(refs), inbound_event_id__isnull=False)
        .values_list("source_ref", "inbound_event_id")
        .distinct()
    )
    event_ids = {}
    for source_ref, event_id in movement_events:
        event_ids.setdefault(refs[source_ref], set()).add(event_id)
    all_ids = {pk for ids in event_ids.values() for pk in ids}
    found = {event.pk: event for event in InboundEvent.objects.filter(pk__in=all_ids).defer("body")}
    for key, ids in event_ids.items():
        events[key] = {pk: found[pk] for pk in ids if pk in found}
    orders = []
    for key in keys:
        order_lines = by_order.get((key["channel_id"], key["order_id"]), [])
        if not order_lines:
            continue
        states = {line.state for line in order_lines}
        orders.append(
            {
                "channel": order_lines[0].channel,
                "order_id": key["order_id"],
                "last_change": key["last_change"],
                "lines": order_lines,
                "state": next(s for s in reversed(ORDER_STATES) if s in states)
                if states & set(ORDER_STATES)
                else "unknown",
                "mixed": len(states) > 1,
                "deliveries": sorted(
                    events.get((key["channel_id"], key["order_id"]), {}).values(),
                    key=lambda event: event.received_at,
                ),
            }
        )
    return orders


# --- the audit trail --------------------------------------------------------------------

# The per-SKU timeline's filter: a label and the entry types it shows.
TRAIL_KINDS = {
    "inbound": ("Inbound events", {"inbound_event"}),
    "movement": ("Movements", {"movement"}),
    "push": ("Pushes and failures", {"push", "fail", "dead"}),
    "confirm": ("Confirmations", {"confirm"}),
    "drift": ("Drift and decisions", {"drift"}),
    "people": ("People's actions", {"retry", "discard", "rule", "channel"}),
}


def sku_trail(*, sku: Sku, kind: str = "", limit: int = 300) -> list[dict]:
    """The SKU's audit trail (channels.selectors.sku_audit_trail) plus the pushes the hub
    queued (outbox rows not confirmed, which the trail shows as confirmations), newest
    first, optionally one kind; each entry gets `group` (a TRAIL_KINDS key)."""
    entries = sku_audit_trail(sku=sku, limit=limit)
    for entry in (
        OutboxEntry.objects.filter(listing__sku=sku)
        .exclude(status=OutboxStatus.CONFIRMED)
        .select_related("channel")
        .order_by("-id")[:limit]
    ):
        entries.append(
            {
                "at": entry.enqueued_at,
                "type": "push",
                "kind": "push",
                "channel": entry.channel.slug,
                "actor": None,
                "summary": f"push of {entry.quantity} to {entry.channel.slug} queued "
                f"({entry.get_status_display().lower()}, {entry.attempts} attempt"
                f"{'' if entry.attempts == 1 else 's'})",
                "data": {"outbox_id": entry.pk, "status": entry.status},
            }
        )
    groups = {t: key for key, (_, types) in TRAIL_KINDS.items() for t in types}
    for entry in entries:
        entry["group"] = groups.get(entry["type"], "people")
    if kind in TRAIL_KINDS:
        entries = [entry for entry in entries if entry["group"] == kind]
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:limit]


@dataclass(frozen=True)
class AuditFilters:
    sku: Sku | None = None
    channel: Channel | None = None
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_query(self) -> dict:
        return {
            "sku": self.sku.code if self.sku else "",
            "channel": self.channel.slug if self.channel else "",
            "actor": self.actor,
            "since": self.since.date().isoformat() if self.since else "",
            "until": (self.until - timedelta(days=1)).date().isoformat() if self.until else "",
        }


def _window(queryset: QuerySet, field: str, filters: AuditFilters) -> QuerySet:
    if filters.since:
        queryset = queryset.filter(**{f"{field}__gte": filters.since})
    if filters.until:
        queryset = queryset.filter(**{f"{field}__lt": filters.until})
    return queryset


def _audit_streams(filters: AuditFilters) -> dict[str, tuple[QuerySet, str]]:
    """The global log's sources: name -> (queryset, its time field). Each is ordered
    newest first by (time, id)."""
    streams: dict[str, tuple[QuerySet, str]] = {}
    movements = Movement.objects.select_related("sku", "location", "actor")
    audits = ChannelAudit.objects.select_related("sku", "channel", "actor")
    if filters.sku:
        movements = movements.filter(sku=filters.sku)
        audits = audits.filter(sku=filters.sku)
    if filters.channel:
        movements = movements.filter(source_ref__startswith=f"{filters.channel.slug}:")
        audits = audits.filter(channel=filters.channel)
    if filters.actor:
        movements = movements.filter(actor__username=filters.actor)
        audits = audits.filter(actor__username=filters.actor)
    streams["m"] = (_window(movements, "recorded_at", filters), "recorded_at")
    streams["a"] = (_window(audits, "created_at", filters), "created_at")
    if not filters.sku and not filters.actor:
        # Deliveries name no SKU column and no person: shown when neither is asked for.
        events = InboundEvent.objects.select_related("channel").defer("body", "headers")
        if filters.channel:
            events = events.filter(channel=filters.channel)
        streams["e"] = (_window(events, "received_at", filters), "received_at")
    return {
        name: (queryset.order_by(f"-{field}", "-id"), field)
        for name, (queryset, field) in streams.items()
    }


def _audit_entry(stream: str, row) -> dict:
    if stream == "m":
        return {
            "at": row.recorded_at,
            "type": "movement",
            "label": row.get_kind_display(),
            "sku": row.sku.code,
            "channel": row.source_ref.split(":")[0] if row.source == "channel" else "",
            "actor": row.actor.get_username() if row.actor else "",
            "summary": f"{row.get_kind_display()} at {row.location.code}: on hand "
            f"{row.on_hand_delta:+}, committed {row.committed_delta:+} (now "
            f"{row.on_hand_after}/{row.committed_after}){f' — {row.reason}' if row.reason else ''}",
            "id": row.pk,
        }
    if stream == "a":
        return {
            "at": row.created_at,
            "type": row.kind,
            "label": row.get_kind_display(),
            "sku": row.sku.code if row.sku else "",
            "channel": row.channel.slug,
            "actor": row.actor.get_username() if row.actor else "",
            "summary": row.message,
            "id": row.pk,
        }
    return {
        "at": row.received_at,
        "type": "inbound_event",
        "label": "Inbound event",
        "sku": "",
        "channel": row.channel.slug,
        "actor": "",
        "summary": f"{row.topic} ({row.get_status_display().lower()})"
        + (f": {row.error[:200]}" if row.error else ""),
        "id": row.pk,
    }


def audit_log_page(
    *, filters: AuditFilters, cursor: dict[str, tuple[datetime, int]], size: int
) -> tuple[list[dict], dict[str, tuple[datetime, int]], bool]:
    """One page of the global log, newest first: at most `size` entries from every source
    older than the source's cursor (keyset paging: a fixed number of queries on any page).
    Returns the entries, the next cursor and whether there are older entries."""
    fetched: list[tuple[str, object]] = []
    for name, (queryset, field) in _audit_streams(filters).items():
        if name in cursor:
            at, pk = cursor[name]
            queryset = queryset.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk}))
        fetched.extend((name, row) for row in queryset[: size + 1])
    fetched.sort(key=lambda pair: (_row_time(pair), pair[1].pk), reverse=True)
    page, more = fetched[:size], len(fetched) > size
    next_cursor = dict(cursor)
    for name, row in page:
        next_cursor[name] = (_row_time((name, row)), row.pk)
    return [_audit_entry(name, row) for name, row in page], next_cursor, more


_TIME_FIELD = {"m": "recorded_at", "a": "created_at", "e": "received_at"}


def _row_time(pair: tuple[str, object]) -> datetime:
    name, row = pair
    return getattr(row, _TIME_FIELD[name])


def audit_log_all(*, filters: AuditFilters, chunk: int = 1000) -> Iterator[dict]:
    """Every entry matching the filters, newest first, for the CSV export: page after
    page by keyset (3 short queries per `chunk` entries, no long-lived cursor or
    transaction), so a year of history streams in constant memory."""
    cursor: dict[str, tuple[datetime, int]] = {}
    while True:
        entries, cursor, more = audit_log_page(filters=filters, cursor=cursor, size=chunk)
        yield from entries
        if not more:
            return


# --- charts -----------------------------------------------------------------------------


def latency_by_hour(*, channel: Channel | None = None, hours: int = 24) -> list[dict]:
    """Propagation latency (stock change committed -> channel confirmed) of the pushes
    confirmed in each of the last `hours` hours: `hour`, `count`, `p50`, `p95` seconds."""
    now = timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    rows: dict[datetime, list[float]] = {}
    entries = OutboxEntry.objects.filter(
        status=OutboxStatus.CONFIRMED, confirmed_at__gte=start, confirmed_at__isnull=False
    )
    if channel:
        entries = entries.filter(channel=channel)
    if connection.vendor == "postgresql":
        where, params = "status = %s AND confirmed_at >= %s", [OutboxStatus.CONFIRMED, start]
        if channel:
            where += " AND channel_id = %s"
            params.append(channel.pk)
        sql = (
            "SELECT date_trunc('hour', confirmed_at) AS hour, count(*),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM confirmed_at -"
            " enqueued_at)),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM confirmed_at -"
            " enqueued_at))"
            f" FROM {OutboxEntry._meta.db_table} WHERE {where} GROUP BY 1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = {
                hour: {"count": count, "p50": float(p50 or 0), "p95": float(p95 or 0)}
                for hour, count, p50, p95 in cursor.fetchall()
            }
    else:  # the embedded SQLite default: few rows, percentiles in Python
        for confirmed_at, enqueued_at in entries.values_list("confirmed_at", "enqueued_at"):
            hour = confirmed_at.replace(minute=0, second=0, microsecond=0)
            rows.setdefault(hour, []).append((confirmed_at - enqueued_at).total_seconds())
        found = {
            hour: {"count": len(v), "p50": _percentile(v, 0.5), "p95": _percentile(v, 0.95)}
            for hour, v in rows.items()
        }
    out = []
    for index in range(hours):
        hour = start + timedelta(hours=index)
        values = found.get(hour, {"count": 0, "p50": None, "p95": None})
        out.append({"hour": hour, **values})
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pushes_by_channel(*, since: datetime) -> list[dict]:
    """Per channel since `since`: `confirmed` pushes and `failures` (failed attempts and
    dead letters), two grouped queries."""
    confirmed = dict(
        OutboxEntry.objects.filter(status=OutboxStatus.CONFIRMED, confirmed_at__gte=since)
        .values_list("channel_id")
        .annotate(n=Count("pk"))
    )
    failed = dict(
        ChannelAudit.objects.filter(kind__in=FAILURE_KINDS, created_at__gte=since)
        .values_list("channel_id")
        .annotate(n=Count("pk"))
    )
    return [
        {"channel": slug, "confirmed": confirmed.get(pk, 0), "failures": failed.get(pk, 0)}
        for pk, slug in Channel.objects.order_by("slug").values_list("pk", "slug")
    ]


def drift_by_day(*, channel: Channel | None = None, days: int = 14) -> list[dict]:
    """Drift rows detected per day over the last `days` days: `day`, `count`."""
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    rows = Drift.objects.filter(detected_at__date__gte=start)
    if channel:
        rows = rows.filter(channel=channel)
    found = dict(
        rows.annotate(day=TruncDate("detected_at")).values_list("day").annotate(n=Count("pk"))
    )
    return [
        {"day": start + timedelta(days=i), "count": found.get(start + timedelta(days=i), 0)}
        for i in range(days)
    ]


def backlog_by_hour(*, channel: Channel | None = None, hours: int = 24) -> list[dict]:
    """The outbox backlog (pushes waiting for a channel) at each of the last `hours`
    hours, rebuilt from the rows: a push waited from `enqueued_at` until it was confirmed
    (`confirmed_at`) or otherwise settled (`updated_at`). One aggregate query."""
    now = timezone.now()
    points = [now - timedelta(hours=hours - 1 - i) for i in range(hours)]
    rows = OutboxEntry.objects.filter(
        Q(status__in=WAITING) | Q(updated_at__gte=points[0]) | Q(confirmed_at__gte=points[0])
    )
    if channel:
        rows = rows.filter(channel=channel)
    waiting = Q(status__in=WAITING)
    settled_after = {
        i: Q(confirmed_at__gt=point) | (Q(confirmed_at__isnull=True) & Q(updated_at__gt=point))
        for i, point in enumerate(points)
    }
    aggregates = {
        f"p{i}": Count("pk", filter=Q(enqueued_at__lte=point) & (waiting | settled_after[i]))
        for i, point in enumerate(points)
    }
    counts = rows.aggregate(**aggregates)
    return [{"at": point, "count": counts[f"p{i}"]} for i, point in enumerate(points)]


def unreadable_rows(*, channel: str = "", status: str = "unreadable"):
    """Parked deliveries (unreadable, or handled), newest first, with their channel."""
    rows = InboundEvent.objects.filter(status=status).select_related("channel").order_by("-id")
    if channel:
        rows = rows.filter(channel__slug=channel)
    return rows
