"""Physical counts in the browser: the page, the preview (writes nothing), apply, the
service's refusals (422, nothing written), approval of big differences, and the roles."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from channels.models import CountLine, CountStatus
from ledger.models import Movement
from ledger.services import location_default, sku_create, sku_get, stock_receive
from tests.factories import role_user

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SMALL_AND_BIG = "sku,location,counted\nTEE-RED-M,,11\nMUG-WHITE,,100\n"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("foundation.queueing.enqueue", lambda *args, **kwargs: None)


@pytest.fixture(autouse=True)
def stock(settings):
    settings.DRIFT_AUTO_FIX_MAX_DELTA = 5
    location_default()
    for code, quantity in (("TEE-RED-M", 12), ("MUG-WHITE", 30)):
        stock_receive(sku=sku_create(code=code, title=code.title()), quantity=quantity)


def login(role: str | None) -> Client:
    client = Client()
    client.force_login(role_user(role))
    return client


def on_hand(code: str) -> int:
    return sum(level.on_hand for level in sku_get(code).levels.all())


def text(response) -> str:
    return response.content.decode()


def test_the_page_shows_the_form_and_the_navigation_link():
    response = login("Merchant").get("/counts/")
    assert response.status_code == 200
    body = text(response)
    assert 'href="/counts/"' in body and 'name="file"' in body and "hx-indicator" in body
    assert "No count is waiting for approval" in body


def test_a_viewer_sees_the_page_without_the_form():
    body = text(login("Viewer").get("/counts/"))
    assert 'href="/counts/"' in body
    assert 'name="file"' not in body


def test_the_preview_shows_each_line_and_writes_nothing():
    movements = Movement.objects.count()
    response = login("Merchant").post("/counts/preview/", {"csv": SMALL_AND_BIG}, **HTMX)
    assert response.status_code == 200
    body = text(response)
    assert "Preview: 2 lines" in body
    assert "Applies at once" in body and "Waits for approval" in body
    assert "+70" in body and "-1" in body
    assert 'name="batch"' in body
    assert Movement.objects.count() == movements and not CountLine.objects.exists()
    assert (on_hand("TEE-RED-M"), on_hand("MUG-WHITE")) == (12, 30)


def test_a_file_upload_previews_like_pasted_text():
    upload = SimpleUploadedFile("count.csv", SMALL_AND_BIG.encode("utf-8-sig"), "text/csv")
    response = login("Merchant").post("/counts/preview/", {"file": upload}, **HTMX)
    assert response.status_code == 200
    assert "Preview: 2 lines" in text(response)


def test_apply_applies_small_differences_and_keeps_big_ones_for_approval():
    client = login("Merchant")
    response = client.post("/counts/apply/", {"csv": SMALL_AND_BIG, "batch": "b1"}, **HTMX)
    assert response.status_code == 200
    assert "1 line(s) applied, 1 waiting for approval" in text(response)
    assert on_hand("TEE-RED-M") == 11 and on_hand("MUG-WHITE") == 30
    waiting = CountLine.objects.get(status=CountStatus.AWAITING_APPROVAL)
    assert waiting.sku.code == "MUG-WHITE" and waiting.difference == 70
    # A second click on the same Apply button returns the first result, no second count.
    again = client.post("/counts/apply/", {"csv": SMALL_AND_BIG, "batch": "b1"}, **HTMX)
    assert again.status_code == 200
    assert CountLine.objects.count() == 2 and on_hand("TEE-RED-M") == 11


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("sku,counted\nNO-SUCH,3\n", "no SKU"),
        ("sku,location,counted\nTEE-RED-M,,-2\n", "not a whole number"),
        ("code,qty\nTEE-RED-M,3\n", "header row"),
        ("sku,location,counted\nTEE-RED-M,nowhere,3\n", "no location"),
        ("", "Choose a CSV file or paste"),
    ],
)
def test_refusals_answer_422_with_the_message_and_write_nothing(csv, message):
    client = login("Merchant")
    for url in ("/counts/preview/", "/counts/apply/"):
        response = client.post(url, {"csv": csv}, **HTMX)
        assert response.status_code == 422
        assert message in text(response) and "Nothing was recorded" in text(response)
    assert not CountLine.objects.exists() and on_hand("TEE-RED-M") == 12


def test_an_approver_approves_and_rejects_waiting_lines():
    login("Merchant").post(
        "/counts/apply/",
        {"csv": "sku,location,counted\nTEE-RED-M,,40\nMUG-WHITE,,100\n"},
        **HTMX,
    )
    tee, mug = CountLine.objects.order_by("id")
    approver = login("Approver")
    page = text(approver.get("/counts/"))
    assert "Waiting for approval (2)" in page and "Approve" in page

    response = approver.post(f"/counts/{tee.pk}/decide/", {"act": "approve", "note": "ok"}, **HTMX)
    assert response.status_code == 200 and "Approved and applied: TEE-RED-M" in text(response)
    assert on_hand("TEE-RED-M") == 40
    response = approver.post(f"/counts/{mug.pk}/decide/", {"act": "reject"}, **HTMX)
    assert response.status_code == 200 and on_hand("MUG-WHITE") == 30
    mug.refresh_from_db()
    assert mug.status == CountStatus.REJECTED

    # Deciding again is the service's refusal, shown in the page with 422.
    again = approver.post(f"/counts/{tee.pk}/decide/", {"act": "reject"}, **HTMX)
    assert again.status_code == 422 and "already decided" in text(again)


@pytest.mark.parametrize(
    ("role", "preview", "decide"),
    [
        ("Viewer", 403, 403),
        ("Merchant", 200, 403),
        ("Approver", 403, 200),
        ("Admin", 200, 200),
        (None, 403, 403),
    ],
)
def test_roles(role, preview, decide):
    login("Merchant").post(
        "/counts/apply/", {"csv": "sku,location,counted\nMUG-WHITE,,100\n"}, **HTMX
    )
    line = CountLine.objects.get()
    client = login(role)
    assert client.post("/counts/preview/", {"csv": SMALL_AND_BIG}, **HTMX).status_code == preview
    response = client.post(f"/counts/{line.pk}/decide/", {"act": "reject"}, **HTMX)
    assert response.status_code == decide
    assert client.get("/counts/").status_code == (403 if role is None else 200)


def test_anonymous_is_sent_to_login():
    response = Client().get("/counts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
