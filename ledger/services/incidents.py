"""Oversell incidents: opened when a channel sold what the hub did not have, closed by
themselves when stock covers the shortfall, or by a person who says how."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone

from ..errors import IncidentNotFound, InvalidOperation, InvalidState
from ..models import IncidentStatus, OversellIncident, Sku, StockLevel


def open_oversell_incident(*, sku: Sku, shortfall: int, channel_slug: str, order_id: str) -> None:
    entry = {"channel": channel_slug, "order_id": order_id, "quantity": shortfall}
    incident = (
        OversellIncident.objects.select_for_update()
        .filter(sku=sku, status=IncidentStatus.OPEN)
        .first()
    )
    if incident is None:
        OversellIncident.objects.create(sku=sku, shortfall=shortfall, orders=[entry])
        return
    incident.shortfall += shortfall
    incident.orders = [*incident.orders, entry]
    incident.save(update_fields=["shortfall", "orders"])


def resolve_covered_incidents(sku_ids: set[int], kind: str, now: datetime) -> None:
    """Close the open oversell incidents of these SKUs whose available is back at zero or
    above: stock arrived (or an order gave its units back) and covers the shortfall."""
    available = (
        StockLevel.objects.filter(sku_id=OuterRef("sku_id"))
        .values("sku_id")
        .annotate(total=Sum(F("on_hand") - F("committed")))
        .values("total")
    )
    OversellIncident.objects.filter(sku_id__in=sku_ids, status=IncidentStatus.OPEN).alias(
        available=Subquery(available)
    ).filter(available__gte=0).update(
        status=IncidentStatus.RESOLVED,
        resolved_at=now,
        resolution=f"Covered: available is back at zero or above after a {kind}.",
    )


def incident_resolve(
    *, incident_id: int, resolution: str, actor: AbstractBaseUser | None = None
) -> OversellIncident:
    """A person closes an oversell incident (the orders were cancelled, or fulfilled from
    elsewhere), saying how. Stock does not move."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidOperation(
            "Say how the incident was resolved, for example: order 1042 cancelled and refunded.",
            field="resolution",
        )
    if len(resolution) > 500:
        raise InvalidOperation("Keep the resolution under 500 characters.", field="resolution")
    with transaction.atomic():
        incident = (
            OversellIncident.objects.select_for_update()
            .select_related("sku")
            .filter(pk=incident_id)
            .first()
        )
        if incident is None:
            raise IncidentNotFound(f"No incident {incident_id}.", incident_id=incident_id)
        if incident.status != IncidentStatus.OPEN:
            raise InvalidState(
                f"Incident {incident_id} is already resolved: {incident.resolution}",
                incident_id=incident_id,
            )
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at = timezone.now()
        incident.resolution = resolution
        incident.resolved_by = actor
        incident.save(update_fields=["status", "resolved_at", "resolution", "resolved_by"])
    return incident
