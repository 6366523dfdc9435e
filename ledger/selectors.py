"""Reads for the ledger: each costs a fixed number of queries whatever the data size."""

from __future__ import annotations

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from foundation.db import estimated_count

from .models import (
    IncidentStatus,
    Location,
    Movement,
    OversellIncident,
    Reservation,
    ReservationLine,
    ReservationStatus,
    Sku,
    StockLevel,
)


def _level_total(field: str) -> Coalesce:
    return Coalesce(
        Subquery(
            StockLevel.objects.filter(sku=OuterRef("pk"))
            .values("sku")
            .annotate(total=Sum(field))
            .values("total"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


# Below this many SKUs the stock list counts them; above, PostgreSQL's estimate is shown.
SKU_COUNT_EXACT_BELOW = 10_000


def sku_count() -> tuple[int, bool]:
    """How many SKUs there are, and whether that is an estimate (one query)."""
    return estimated_count(Sku, exact_below=SKU_COUNT_EXACT_BELOW)


def sku_list(*, search: str = "") -> QuerySet[Sku]:
    """SKUs with their on_hand, committed and available totals across locations."""
    skus = Sku.objects.annotate(
        total_on_hand=_level_total("on_hand"), total_committed=_level_total("committed")
    ).order_by("code_key")
    if search:
        # contains / icontains are exactly the expressions of the trigram indexes
        # (migration 0005: code_key::text, UPPER(title::text)) on PostgreSQL.
        skus = skus.filter(
            Q(code_key__contains=search.strip().casefold()) | Q(title__icontains=search.strip())
        )
    return skus


def sku_levels(*, sku: Sku) -> list[StockLevel]:
    return list(
        StockLevel.objects.filter(sku=sku)
        .select_related("location")
        .order_by("location__priority", "location_id")
    )


def sku_movements(*, sku: Sku, limit: int = 100) -> QuerySet[Movement]:
    return (
        Movement.objects.filter(sku=sku).select_related("location", "actor").order_by("-id")[:limit]
    )


def open_incident_count() -> int:
    return OversellIncident.objects.filter(status="open").count()


def ledger_mismatches() -> list[dict]:
    """Every StockLevel whose numbers differ from the sum (and count) of its movements."""
    sums = {
        (row["sku_id"], row["location_id"]): row
        for row in Movement.objects.values("sku_id", "location_id").annotate(
            on_hand=Sum("on_hand_delta"), committed=Sum("committed_delta"), moves=Count("id")
        )
    }
    mismatches = []
    for level in StockLevel.objects.select_related("sku", "location"):
        row = sums.pop((level.sku_id, level.location_id), None) or {
            "on_hand": 0,
            "committed": 0,
            "moves": 0,
        }
        if (level.on_hand, level.committed, level.version) != (
            row["on_hand"],
            row["committed"],
            row["moves"],
        ):
            mismatches.append(
                {
                    "sku": level.sku.code,
                    "location": level.location.code,
                    "level": {
                        "on_hand": level.on_hand,
                        "committed": level.committed,
                        "version": level.version,
                    },
                    "movements": {
                        "on_hand": row["on_hand"],
                        "committed": row["committed"],
                        "count": row["moves"],
                    },
                }
            )
    for (sku_id, location_id), row in sums.items():
        mismatches.append(
            {
                "sku": sku_id,
                "location": location_id,
                "level": None,
                "movements": {"on_hand": row["on_hand"], "committed": row["committed"]},
            }
        )
    return mismatches


def sku_exists() -> bool:
    return Sku.objects.exists()


def sku_open_reservations(*, sku: Sku) -> list[Reservation]:
    """Open reservations, newest first, with their lines and locations (prefetched)."""
    return list(
        Reservation.objects.filter(sku=sku, status=ReservationStatus.OPEN)
        .order_by("-id")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReservationLine.objects.select_related("location").order_by("id"),
            )
        )
    )


def location_choices() -> list[Location]:
    return list(Location.objects.order_by("priority", "id"))


# --- incidents --------------------------------------------------------------------------


def incident_rows(*, status: str = "") -> QuerySet[OversellIncident]:
    """Open incidents first, then newest first."""
    incidents = OversellIncident.objects.select_related("sku")
    if status in IncidentStatus.values:
        incidents = incidents.filter(status=status)
    open_first = Case(When(status=IncidentStatus.OPEN, then=Value(0)), default=Value(1))
    return incidents.order_by(open_first, "-opened_at")
