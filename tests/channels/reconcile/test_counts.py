"""Physical counts: preview, apply while orders are in flight, approval of big
differences, and why the seed report's 581-SKU over-correction cannot happen."""

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import CountLine, Listing
from ledger.models import Movement, StockLevel
from ledger.services import reservation_ship, stock_reserve
from tests.factories import role_user

from .conftest import stocked

pytestmark = pytest.mark.django_db


def as_role(role: str) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=role_user(role))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_preview_changes_nothing_and_shows_what_moved_since_the_count(api):
    sku = stocked("CNT", 12)
    counted_at = timezone.now()
    stock_reserve(sku=sku, quantity=3, order_id="after-count")
    before = Movement.objects.count()

    csv = f"sku,location,counted,counted_at\nCNT,,10,{counted_at.isoformat()}\n"
    response = api.post("/api/v1/counts/preview/", csv, content_type="text/csv")

    assert response.status_code == 200, response.content
    line = response.json()["lines"][0]
    assert (line["ledger_at_count"], line["counted"], line["difference"]) == (12, 10, -2)
    assert line["committed_since_count"] == 3
    assert line["action"] == "apply"
    assert Movement.objects.count() == before


def test_a_count_while_orders_are_in_flight_loses_no_order(api):
    sku = stocked("FLT", 12)
    counted_at = timezone.now()
    # Orders placed and shipped after the count time, before the count is applied.
    first = stock_reserve(sku=sku, quantity=3, order_id="o-1")
    stock_reserve(sku=sku, quantity=1, order_id="o-2")
    reservation_ship(reservation=first)

    lines = [{"sku": "FLT", "counted": 10, "counted_at": counted_at.isoformat()}]
    preview = api.post("/api/v1/counts/preview/", {"lines": lines}, format="json").json()
    assert preview["lines"][0]["shipped_since_count"] == 3
    response = api.post("/api/v1/counts/apply/", {"lines": lines}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["summary"]["applied"] == 1
    level = StockLevel.objects.get(sku=sku)
    # The shelf had 10 at the count (2 fewer than the ledger thought); 3 shipped since;
    # the open order's unit stays committed.
    assert (level.on_hand, level.committed) == (7, 1)
    assert level.on_hand - level.committed >= 0  # no oversell
    listing_published = list(Listing.objects.filter(sku=sku).values_list("published", flat=True))
    assert all(p <= 6 for p in listing_published)


def test_a_big_difference_waits_for_an_approver(api):
    sku = stocked("BIG", 50)
    response = api.post(
        "/api/v1/counts/apply/", {"lines": [{"sku": "BIG", "counted": 20}]}, format="json"
    )
    line = response.json()["lines"][0]
    assert line["status"] == "awaiting" and line["difference"] == -30
    assert StockLevel.objects.get(sku=sku).on_hand == 50

    assert as_role("Merchant").post(f"/api/v1/counts/{line['id']}/approve/").status_code == 403
    approved = as_role("Approver").post(
        f"/api/v1/counts/{line['id']}/approve/", {"note": "recounted"}, format="json"
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert StockLevel.objects.get(sku=sku).on_hand == 20
    again = as_role("Approver").post(f"/api/v1/counts/{line['id']}/reject/")
    assert again.status_code == 409


def test_apply_is_idempotent_with_a_key(api):
    sku = stocked("IDEM", 5)
    body = {"lines": [{"sku": "IDEM", "counted": 4}]}
    first = api.post("/api/v1/counts/apply/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/counts/apply/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.json() == second.json()
    assert StockLevel.objects.get(sku=sku).on_hand == 4
    assert Movement.objects.filter(sku=sku, kind="count").count() == 1


def test_the_581_sku_over_correction_cannot_happen(api):
    """The seed's script pushed warehouse counts over in-flight orders for 581 SKUs at
    once. Here: (1) big differences wait for a person, (2) what is applied is the
    difference at the count time, so orders since stay, (3) channels get published
    quantities (available after committed), never a count."""
    skus = [stocked(f"S{i:03d}", 40) for i in range(60)]
    counted_at = timezone.now()
    for sku in skus:
        stock_reserve(sku=sku, quantity=5, order_id=f"in-flight-{sku.code}")
    # A stale warehouse export: every SKU "counted" at 60 (20 more than the shelf had).
    csv = "sku,location,counted,counted_at\n" + "".join(
        f"{sku.code},,60,{counted_at.isoformat()}\n" for sku in skus
    )
    report = api.post("/api/v1/counts/apply/", csv, content_type="text/csv").json()
    assert report["summary"]["awaiting"] == 60 and report["summary"]["applied"] == 0
    levels = StockLevel.objects.filter(sku__in=skus)
    assert {(level.on_hand, level.committed) for level in levels} == {(40, 5)}

    # Even a small, auto-applied count never erases the orders placed after it.
    small = api.post(
        "/api/v1/counts/apply/",
        {"lines": [{"sku": "S000", "counted": 38, "counted_at": counted_at.isoformat()}]},
        format="json",
    ).json()
    assert small["summary"]["applied"] == 1
    level = StockLevel.objects.get(sku=skus[0])
    assert (level.on_hand, level.committed) == (38, 5)
    assert CountLine.objects.filter(status="awaiting").count() == 60


def test_bad_counts_are_refused_whole(api):
    stocked("OK", 1)
    for body in (
        {"lines": [{"sku": "NOPE", "counted": 1}]},
        {"lines": [{"sku": "OK", "counted": -1}]},
        {"lines": [{"sku": "OK", "counted": 1, "counted_at": "2999-01-01T00:00:00Z"}]},
        {"lines": [{"sku": "OK", "counted": 1, "location": "nowhere"}]},
        {"lines": []},
    ):
        response = api.post("/api/v1/counts/apply/", body, format="json")
        assert response.status_code in (400, 404), (body, response.content)
    assert not CountLine.objects.exists()
