"""Every decision path over the API, by people with the permission to approve drift."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import ChannelAudit, Drift, DriftStatus, OutboxEntry, OutboxStatus
from ledger.models import Movement, StockLevel
from tests.factories import role_user

from .conftest import drain, reconcile, stocked

pytestmark = pytest.mark.django_db


def client_for(role: str) -> tuple[APIClient, object]:
    user = role_user(role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, user


@pytest.fixture
def escalated(connect, sim):
    sku = stocked("DEC", 30)
    channel = connect("sandbox", "shop", {"DEC": 30})
    drain(channel)
    sim.set_levels("shop", {"DEC": 21})
    reconcile(channel)
    drift = Drift.objects.get()
    assert drift.status == DriftStatus.ESCALATED
    return channel, sku, drift


def test_the_drift_list_speaks_the_contract(api, escalated):
    _, _, drift = escalated
    rows = api.get("/api/v1/drift/", {"status": "escalated", "severity": "major"}).json()
    row = rows["results"][0] if isinstance(rows, dict) else rows[0]
    assert row["id"] == drift.pk
    assert (row["channel"], row["sku"], row["expected"], row["observed"], row["delta"]) == (
        "shop",
        "DEC",
        30,
        21,
        -9,
    )
    assert row["severity"] == "major" and row["status"] == "escalated"
    assert row["reasoning"] and row["evidence"]["investigator"] == "rules"
    assert {"confidence", "decided_by", "decided_at"} <= set(row)
    empty = api.get("/api/v1/drift/", {"sku": "OTHER"}).json()
    assert (empty["results"] if isinstance(empty, dict) else empty) == []


def test_approve_push_hub(escalated, sim):
    channel, sku, drift = escalated
    client, approver = client_for("Approver")
    response = client.post(
        f"/api/v1/drift/{drift.pk}/approve/", {"action": "push_hub", "note": "ours"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["decided_by"] == approver.username
    assert OutboxEntry.objects.get(status=OutboxStatus.PENDING).quantity == 30
    drain(channel)
    assert sim.levels("shop") == {"DEC": 30}
    assert StockLevel.objects.get(sku=sku).on_hand == 30
    assert ChannelAudit.objects.filter(kind="drift", actor=approver).exists()


def test_approve_accept_channel_is_an_adjustment_naming_the_approver(escalated):
    _, sku, drift = escalated
    client, approver = client_for("Approver")
    response = client.post(
        f"/api/v1/drift/{drift.pk}/approve/",
        {"action": "accept_channel", "note": "shelf count agrees"},
        format="json",
    )
    assert response.status_code == 200, response.content
    movement = Movement.objects.filter(sku=sku, kind="adjustment").get()
    assert movement.on_hand_delta == -9 and movement.actor == approver
    assert f"drift {drift.pk}" in movement.reason and approver.username in movement.reason
    assert StockLevel.objects.get(sku=sku).on_hand == 21


def test_reject_with_a_note_and_no_second_decision(escalated):
    _, sku, drift = escalated
    client, _ = client_for("Approver")
    response = client.post(f"/api/v1/drift/{drift.pk}/reject/", {"note": "test"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    again = client.post(f"/api/v1/drift/{drift.pk}/reject/", {"note": "x"}, format="json")
    assert again.status_code == 409
    assert StockLevel.objects.get(sku=sku).on_hand == 30


@pytest.mark.parametrize("role", ["Viewer", "Merchant"])
def test_only_approvers_decide(escalated, role):
    _, _, drift = escalated
    client, _ = client_for(role)
    response = client.post(
        f"/api/v1/drift/{drift.pk}/approve/", {"action": "push_hub"}, format="json"
    )
    assert response.status_code == 403
