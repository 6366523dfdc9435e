"""The stock API over HTTP: happy paths, idempotency, and every bad input (with proof
that nothing was written)."""

import pytest

from ledger.models import Movement, OversellIncident, Reservation, Sku, StockOperation
from ledger.services import stock_reserve
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(api):
    api.post("/api/v1/skus/", {"code": "MUG-1", "title": "Mug"}, format="json")
    api.post(
        "/api/v1/movements/", {"sku": "MUG-1", "kind": "receipt", "quantity": 10}, format="json"
    )
    return api


def written() -> tuple[int, int, int]:
    return Movement.objects.count(), Reservation.objects.count(), StockOperation.objects.count()


def assert_refused(client, url: str, body: dict, status: int, needle: str) -> None:
    """The request is refused with `status`, the one error shape, a message naming
    `needle`, and nothing written."""
    before = written()
    response = client.post(url, body, format="json")
    assert response.status_code == status
    payload = response.json()
    assert set(payload) == {"error", "message", "detail"}
    assert needle in payload["message"]
    assert written() == before


def test_sku_detail_shows_totals_and_levels(stocked):
    body = stocked.get("/api/v1/skus/mug-1/").json()
    assert (body["code"], body["on_hand"], body["committed"], body["available"]) == (
        "MUG-1",
        10,
        0,
        10,
    )
    assert body["locations"][0]["location"] == "main"
    assert body["channels"] == []


def test_reserve_release_and_ship(stocked):
    response = stocked.post(
        "/api/v1/reservations/", {"sku": "MUG-1", "quantity": 3, "order_id": "W1"}, format="json"
    )
    assert response.status_code == 201
    reservation = response.json()
    assert reservation["lines"] == [{"location": "main", "quantity": 3}]
    assert stocked.get("/api/v1/skus/MUG-1/").json()["available"] == 7
    shipped = stocked.post(f"/api/v1/reservations/{reservation['id']}/ship/")
    assert shipped.json()["status"] == "shipped"
    again = stocked.post(f"/api/v1/reservations/{reservation['id']}/release/")
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    assert stocked.get("/api/v1/skus/MUG-1/").json()["on_hand"] == 7


def test_reservation_beyond_available_is_409_with_the_available_quantity(stocked):
    before = written()
    response = stocked.post(
        "/api/v1/reservations/", {"sku": "MUG-1", "quantity": 11, "order_id": "W1"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "insufficient_stock"
    assert body["detail"]["available"] == 10
    assert "10" in body["message"]
    assert written() == before


def test_idempotency_key_returns_the_first_result(stocked):
    body = {"sku": "MUG-1", "kind": "receipt", "quantity": 5}
    first = stocked.post("/api/v1/movements/", body, format="json", HTTP_IDEMPOTENCY_KEY="rcpt-1")
    second = stocked.post("/api/v1/movements/", body, format="json", HTTP_IDEMPOTENCY_KEY="rcpt-1")
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert stocked.get("/api/v1/skus/MUG-1/").json()["on_hand"] == 15
    conflict = stocked.post(
        "/api/v1/movements/", {**body, "quantity": 6}, format="json", HTTP_IDEMPOTENCY_KEY="rcpt-1"
    )
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    assert stocked.get("/api/v1/skus/MUG-1/").json()["on_hand"] == 15


def test_transfer_and_count(stocked):
    stocked.post("/api/v1/locations/", {"code": "shop", "name": "Shop"}, format="json")
    moved = stocked.post(
        "/api/v1/movements/",
        {"sku": "MUG-1", "kind": "transfer", "quantity": 4, "to_location": "shop"},
        format="json",
    )
    assert moved.status_code == 201 and len(moved.json()["movements"]) == 2
    counted = stocked.post(
        "/api/v1/movements/", {"sku": "MUG-1", "kind": "count", "quantity": 5}, format="json"
    )
    assert counted.json()["movements"][0]["on_hand_delta"] == -1
    levels = {
        row["location"]: row["on_hand"]
        for row in stocked.get("/api/v1/skus/MUG-1/").json()["locations"]
    }
    assert levels == {"main": 5, "shop": 4}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"sku": "NOPE", "kind": "receipt", "quantity": 1}, 404, "NOPE"),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": 0}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": -3}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": 2.5}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": "lots"}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": 1_000_000_001}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "adjustment", "quantity": 0}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "count", "quantity": -1}, 400, "quantity"),
        ({"sku": "MUG-1", "kind": "teleport", "quantity": 1}, 400, "kind"),
        ({"sku": "MUG-1", "kind": "receipt"}, 400, "quantity"),
        ({"kind": "receipt", "quantity": 1}, 400, "sku"),
        ({"sku": "MUG-1", "kind": "transfer", "quantity": 1}, 400, "to_location"),
        (
            {"sku": "MUG-1", "kind": "transfer", "quantity": 1, "to_location": "main"},
            400,
            "different",
        ),
        ({"sku": "MUG-1", "kind": "receipt", "quantity": 1, "location": "mars"}, 404, "mars"),
        ({"sku": "MUG-1", "kind": "adjustment", "quantity": -11}, 409, "available"),
    ],
)
def test_bad_movements_are_refused_and_write_nothing(stocked, body, status, needle):
    assert_refused(stocked, "/api/v1/movements/", body, status, needle)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"sku": "MUG-1", "quantity": 0, "order_id": "A"}, 400, "quantity"),
        ({"sku": "MUG-1", "quantity": -1, "order_id": "A"}, 400, "quantity"),
        ({"sku": "MUG-1", "quantity": 1}, 400, "order_id"),
        ({"sku": "NOPE", "quantity": 1, "order_id": "A"}, 404, "NOPE"),
        ({"sku": "MUG-1", "quantity": 1, "order_id": "A", "channel": "ghost"}, 404, "ghost"),
    ],
)
def test_bad_reservations_are_refused_and_write_nothing(stocked, body, status, needle):
    assert_refused(stocked, "/api/v1/reservations/", body, status, needle)


def test_bad_skus_are_refused(api):
    assert api.post("/api/v1/skus/", {"title": "no code"}, format="json").status_code == 400
    api.post("/api/v1/skus/", {"code": "A"}, format="json")
    duplicate = api.post("/api/v1/skus/", {"code": " a "}, format="json")
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["message"]
    assert Sku.objects.count() == 1
    assert api.get("/api/v1/skus/NOPE/").status_code == 404


@pytest.mark.parametrize("code", ["new", "bulk"])
def test_a_sku_code_that_is_another_page_is_refused_but_its_capitals_work(api, code):
    refused = api.post("/api/v1/skus/", {"code": code}, format="json")
    assert refused.status_code == 400 and f"/skus/{code}/" in refused.json()["message"]
    assert not Sku.objects.exists()
    assert api.post("/api/v1/skus/", {"code": code.upper()}, format="json").status_code == 201
    assert api.get(f"/api/v1/skus/{code.upper()}/").json()["code"] == code.upper()


def test_unknown_reservation_is_404(api):
    response = api.post("/api/v1/reservations/999/release/")
    assert response.status_code == 404 and response.json()["error"] == "reservation_not_found"


def test_openapi_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/reservations/" in schema.content
    assert api.get("/api/docs/").status_code == 200


def test_healthz_reports_database_and_broker(client):
    body = client.get("/healthz").json()
    assert body["database"]["ok"] is True
    assert set(body) >= {
        "database",
        "broker",
        "last_reconcile_at",
        "last_digest_at",
        "outbox_backlog",
        "dlq_size",
        "status",
    }


def test_a_catalogue_import_and_a_many_line_receipt(api):
    from channels.models import Listing, OutboxEntry
    from channels.services import channel_create

    channel_create(slug="shop", kind="sandbox", name="Shop")
    skus = [{"code": f"BULK-{n}", "title": f"Bulk {n}"} for n in range(300)]
    created = api.post("/api/v1/skus/bulk/", {"skus": skus}, format="json")
    assert created.status_code == 201 and created.json()["created"] == 300
    assert Listing.objects.filter(channel__slug="shop").count() == 300
    lines = [{"sku": f"bulk-{n}", "quantity": n + 1} for n in range(300)]
    receipt = api.post(
        "/api/v1/receipts/", {"lines": lines, "reason": "delivery 42"}, format="json"
    )
    assert receipt.status_code == 201
    assert len(receipt.json()["movements"]) == 300
    assert api.get("/api/v1/skus/BULK-299/").json()["on_hand"] == 300
    assert OutboxEntry.objects.filter(status="pending").count() == 300  # one per listing
    from ledger.selectors import ledger_mismatches

    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"lines": []}, 400, "lines"),
        ({"lines": [{"sku": "MUG-1", "quantity": 0}]}, 400, "quantity"),
        (
            {"lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]},
            404,
            "NOPE",
        ),
        (
            {"lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "mug-1", "quantity": 2}]},
            400,
            "once",
        ),
        ({"lines": [{"sku": "MUG-1", "quantity": 1}], "location": "mars"}, 404, "mars"),
    ],
)
def test_bad_receipts_write_nothing(stocked, body, status, needle):
    assert_refused(stocked, "/api/v1/receipts/", body, status, needle)


def test_a_bad_catalogue_import_writes_nothing(api):
    api.post("/api/v1/skus/", {"code": "TAKEN"}, format="json")
    for skus, needle in (
        ([{"code": "NEW-1"}, {"code": "taken"}], "already exists"),
        ([{"code": "NEW-1"}, {"code": "new-1"}], "twice"),
        ([{"code": "NEW-1"}, {"title": "no code"}], "code"),
    ):
        response = api.post("/api/v1/skus/bulk/", {"skus": skus}, format="json")
        assert response.status_code == 400
        assert needle in response.json()["message"]
    assert list(Sku.objects.values_list("code", flat=True)) == ["TAKEN"]


def test_an_incident_is_resolved_through_the_api_and_audited_with_the_user(api, user):
    sku = SkuFactory(code="TEE-1")
    stock_reserve(sku=sku, quantity=2, order_id="W-1", channel_slug="web", allow_oversell=True)
    incident = OversellIncident.objects.get()
    url = f"/api/v1/incidents/{incident.pk}/resolve/"
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and missing.json()["detail"]["field"] == "resolution"
    assert OversellIncident.objects.get().status == "open"
    done = api.post(url, {"resolution": "W-1 cancelled"}, format="json")
    assert done.status_code == 200
    assert done.json() | {"opened_at": None, "resolved_at": None} == {
        "id": incident.pk,
        "sku": "TEE-1",
        "status": "resolved",
        "shortfall": 2,
        "orders": [{"channel": "web", "order_id": "W-1", "quantity": 2}],
        "opened_at": None,
        "resolved_at": None,
        "resolution": "W-1 cancelled",
        "resolved_by": user.get_username(),
    }
    again = api.post(url, {"resolution": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    unknown = api.post("/api/v1/incidents/999999/resolve/", {"resolution": "x"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["error"] == "incident_not_found"
    listed = api.get("/api/v1/incidents/?status=resolved").json()
    assert [row["resolved_by"] for row in listed["results"]] == [user.get_username()]
