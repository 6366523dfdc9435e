"""Drift decisions and the per-SKU audit trail over the API."""

import pytest

from channels.models import Drift, Listing, OutboxEntry
from channels.services import channel_create
from ledger.models import StockLevel
from ledger.services import Origin, sku_create, stock_receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted():
    channel = channel_create(slug="shop", kind="sandbox", name="Shop")
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10, origin=Origin(reason="opening"))
    listing = Listing.objects.get(sku=sku)
    return Drift.objects.create(
        channel=channel, listing=listing, sku=sku, hub_quantity=10, channel_quantity=8
    )


def test_list_filters(api, drifted):
    assert api.get("/api/v1/drift/?status=open&channel=shop&sku=mug").json()["count"] == 1
    assert api.get("/api/v1/drift/?status=approved").json()["count"] == 0


def test_accept_channel_adjusts_the_hub_and_is_audited(api, user, drifted):
    response = api.post(
        f"/api/v1/drift/{drifted.pk}/approve/",
        {"action": "accept_channel", "note": "counted 8 on the shelf"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decided_by"]) == ("approved", user.username)
    assert StockLevel.objects.get(sku=drifted.sku).on_hand == 8
    again = api.post(f"/api/v1/drift/{drifted.pk}/reject/", {"note": "x"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    trail = api.get("/api/v1/audit/?sku=MUG").json()["results"]
    kinds = [entry["type"] for entry in trail]
    assert kinds.count("movement") == 2 and "drift" in kinds
    decisions = [entry for entry in trail if entry["type"] == "drift" and entry["actor"]]
    assert decisions[0]["actor"] == user.username
    times = [entry["at"] for entry in trail]
    assert times == sorted(times, reverse=True)


def test_push_hub_queues_the_hub_number_again(api, drifted):
    OutboxEntry.objects.all().delete()
    response = api.post(
        f"/api/v1/drift/{drifted.pk}/approve/", {"action": "push_hub"}, format="json"
    )
    assert response.status_code == 200
    assert OutboxEntry.objects.get().quantity == 10


def test_bad_decisions_are_refused(api, drifted):
    bad = api.post(f"/api/v1/drift/{drifted.pk}/approve/", {"action": "delete_it"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()["message"]
    assert api.post("/api/v1/drift/999/reject/", {}, format="json").status_code == 404
    assert api.get("/api/v1/audit/").status_code == 400
    assert api.get("/api/v1/audit/?sku=NOPE").status_code == 404
    assert Drift.objects.get().status == "open"
