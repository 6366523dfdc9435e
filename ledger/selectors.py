"""Reads for the ledger: each costs a fixed number of queries whatever the data size."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Movement, OversellIncident, Sku, StockLevel


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


def sku_list(*, search: str = "") -> QuerySet[Sku]:
    """SKUs with their on_hand, committed and available totals across locations."""
    skus = Sku.objects.annotate(
        total_on_hand=_level_total("on_hand"), total_committed=_level_total("committed")
    ).order_by("code_key")
    if search:
        skus = skus.filter(code_key__contains=search.strip().casefold()) | skus.filter(
            title__icontains=search.strip()
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
