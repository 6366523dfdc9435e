"""Oversell incidents close when stock covers the shortfall, or when a person resolves
them saying how; a bad resolution is refused and changes nothing."""

import pytest

from ledger.errors import IncidentNotFound, InvalidOperation, InvalidState
from ledger.models import OversellIncident
from ledger.services import (
    incident_resolve,
    reservation_release,
    stock_receive,
    stock_reserve,
)
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


def oversell(sku, quantity=3, order_id="X1"):
    return stock_reserve(
        sku=sku, quantity=quantity, order_id=order_id, channel_slug="shop", allow_oversell=True
    )


def test_stock_that_covers_the_shortfall_closes_the_incident():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    oversell(sku)  # available -2
    stock_receive(sku=sku, quantity=1)  # -1: still short
    assert OversellIncident.objects.get().status == "open"
    stock_receive(sku=sku, quantity=1)  # 0: covered
    incident = OversellIncident.objects.get()
    assert incident.status == "resolved" and incident.resolved_by is None
    assert incident.resolved_at is not None and "receipt" in incident.resolution


def test_a_cancelled_order_giving_its_units_back_closes_the_incident():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    reservation = oversell(sku)
    reservation_release(reservation=reservation)
    assert OversellIncident.objects.get().status == "resolved"


def test_a_later_oversell_opens_a_new_incident():
    sku = SkuFactory()
    oversell(sku, quantity=1)
    stock_receive(sku=sku, quantity=1)
    oversell(sku, quantity=2, order_id="X2")
    assert list(OversellIncident.objects.order_by("id").values_list("status", "shortfall")) == [
        ("resolved", 1),
        ("open", 2),
    ]


def test_a_person_resolves_an_incident_saying_how(user):
    sku = SkuFactory()
    oversell(sku)
    incident = incident_resolve(
        incident_id=OversellIncident.objects.get().pk,
        resolution="  Order X1 cancelled and refunded. ",
        actor=user,
    )
    incident.refresh_from_db()
    assert (incident.status, incident.resolution, incident.resolved_by) == (
        "resolved",
        "Order X1 cancelled and refunded.",
        user,
    )


@pytest.mark.parametrize(
    ("resolution", "error"),
    [("", InvalidOperation), ("   ", InvalidOperation), ("x" * 501, InvalidOperation)],
)
def test_a_resolution_must_say_how(resolution, error):
    oversell(SkuFactory())
    incident = OversellIncident.objects.get()
    with pytest.raises(error):
        incident_resolve(incident_id=incident.pk, resolution=resolution)
    incident.refresh_from_db()
    assert (incident.status, incident.resolution, incident.resolved_at) == ("open", "", None)


def test_a_resolved_or_unknown_incident_is_refused():
    oversell(SkuFactory())
    incident = OversellIncident.objects.get()
    incident_resolve(incident_id=incident.pk, resolution="fulfilled from the shop floor")
    with pytest.raises(InvalidState):
        incident_resolve(incident_id=incident.pk, resolution="again")
    assert OversellIncident.objects.get().resolution == "fulfilled from the shop floor"
    with pytest.raises(IncidentNotFound):
        incident_resolve(incident_id=incident.pk + 1, resolution="who?")
