"""Every input a prober found answered with a 500 now answers 400 in the one error shape,
says why, and writes nothing."""

import base64
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import Channel, InboundEvent, Listing
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret, sign_shopify
from ledger.models import Movement, Sku, StockLevel, StockOperation
from ledger.services import sku_create
from tests.factories import SkuFactory, role_user

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = [
    "/api/v1/skus/",
    "/api/v1/incidents/",
    "/api/v1/dlq/",
    "/api/v1/drift/",
    "/api/v1/outbox/",
    "/api/v1/channels/web/listings/",
]


def rows() -> tuple[int, ...]:
    return (
        Sku.objects.count(),
        Movement.objects.count(),
        StockOperation.objects.count(),
        Channel.objects.count(),
        Listing.objects.count(),
    )


def refused(response, needle: str, *, status: int = 400) -> dict:
    """The answer is `status` in the error shape, with a message that says `needle`."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "detail"}
    assert isinstance(body["detail"], dict)
    assert needle in body["message"], body["message"]
    return body


@pytest.fixture
def merchant(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def web(db) -> Channel:
    return channel_create(slug="web", kind="sandbox", name="Web")


@pytest.fixture
def mug(db) -> Sku:
    return sku_create(code="MUG-1", title="Mug")


# --- ?limit= and ?offset= ---------------------------------------------------------------


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_a_limit_above_bigint_is_a_400_on_every_list(api, web, mug, url):
    response = api.get(url, {"limit": "9" * 20})
    body = refused(response, "limit: A whole number from 1 to 1,000.")
    assert body["error"] == "invalid"


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"limit": "abc"}, "limit: A whole number from 1 to 1,000."),
        ({"limit": "0"}, "limit: A whole number from 1 to 1,000."),
        ({"limit": "1001"}, "limit: A whole number from 1 to 1,000."),
        ({"offset": "-1"}, "offset: A whole number from 0 to 2,147,483,647."),
        ({"offset": "9" * 20}, "offset: A whole number from 0 to 2,147,483,647."),
    ],
)
def test_limit_and_offset_out_of_range_are_400s(api, mug, query, needle):
    refused(api.get("/api/v1/skus/", query), needle)


def test_limit_and_offset_in_range_page_as_before(api, mug):
    sku_create(code="MUG-2")
    page = api.get("/api/v1/skus/", {"limit": "1", "offset": "1"}).json()
    assert page["count"] == 2
    assert [row["code"] for row in page["results"]] == ["MUG-2"]
    assert api.get("/api/v1/skus/", {"offset": "500"}).json()["results"] == []


# --- NUL characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [{"color": "red\x00"}, {"color\x00": "red"}, {"size": {"eu": ["38", "\x00"]}}],
    ids=["value", "name", "nested"],
)
def test_nul_in_attributes_is_a_400(api, attributes):
    before = rows()
    response = api.post("/api/v1/skus/", {"code": "A1", "attributes": attributes}, format="json")
    body = refused(response, "Null characters are not allowed")
    assert next(iter(body["detail"])).startswith("attributes")
    assert rows() == before


def test_nul_in_channel_settings_is_a_400(api):
    before = rows()
    response = api.post(
        "/api/v1/channels/",
        {"slug": "s1", "kind": "sandbox", "name": "S", "settings": {"note": "a\x00b"}},
        format="json",
    )
    refused(response, "settings.note: Null characters are not allowed.")
    assert rows() == before


def test_nul_in_channel_credentials_on_update_is_a_400(api, web):
    response = api.patch("/api/v1/channels/web/", {"credentials": {"k": "\x00"}}, format="json")
    refused(response, "credentials.k: Null characters are not allowed.")
    web.refresh_from_db()
    assert web.credentials == {}


@pytest.mark.parametrize("how", ["text/csv", "file", "json"])
def test_nul_in_a_listing_csv_is_a_400(api, web, mug, how):
    text = "sku,channel,external_id\nMUG-1,web,ext\x00id\n"
    if how == "text/csv":
        response = api.post("/api/v1/listings/import/", text, content_type="text/csv")
    elif how == "file":
        upload = {"file": SimpleUploadedFile("listings.csv", text.encode())}
        response = api.post("/api/v1/listings/import/", upload, format="multipart")
    else:
        response = api.post("/api/v1/listings/import/", {"csv": text}, format="json")
    before = list(Listing.objects.values_list("external_id", flat=True))
    refused(response, "Null characters are not allowed.")
    assert list(Listing.objects.values_list("external_id", flat=True)) == before == [""]


def test_a_listing_csv_that_is_not_utf8_is_a_400(api, web, mug):
    body = "sku,channel,external_id\nMUG-1,web,é\n".encode("utf-16")
    response = api.post("/api/v1/listings/import/", body, content_type="text/csv")
    refused(response, "not UTF-8")
    assert Listing.objects.get().external_id == ""


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/skus/MUG%00/",
        "/api/v1/channels/web/allocations/MUG%00/",
        "/api/v1/skus/%00/",
    ],
)
def test_nul_in_a_path_code_is_a_400(api, web, mug, url):
    method = api.delete if "allocations" in url else api.get
    refused(method(url), "path: Null characters are not allowed.")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/skus/", "search"),
        ("/api/v1/incidents/", "status"),
        ("/api/v1/dlq/", "channel"),
        ("/api/v1/drift/", "sku"),
        ("/api/v1/drift/", "channel"),
        ("/api/v1/outbox/", "status"),
        ("/api/v1/outbox/", "sku"),
        ("/api/v1/audit/", "sku"),
    ],
)
def test_nul_in_a_query_filter_is_a_400(api, mug, url, name):
    body = refused(api.get(url, {name: "MUG\x00"}), f"{name}: Null characters are not allowed.")
    assert body["detail"] == {name: ["Null characters are not allowed."]}


def test_nul_in_a_dashboard_search_is_a_400_too(merchant):
    response = merchant.get("/", {"q": "\x00"})
    assert response.status_code == 400


# --- SKU codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("ß" * 60, "at most 100 characters once case-folded for matching"),
        ("A\tB", "U+0009 (a control character) at position 2"),
        ("A\x01B", "U+0001 (a control character) at position 2"),
        ("TEE\u202eRED", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4"),
        ("TEE\u200bRED", "U+200B (ZERO WIDTH SPACE) at position 4"),
        ("TEE/RED/M", "cannot contain '/'"),
    ],
    ids=["casefolds-past-100", "tab", "control", "bidi-override", "zero-width", "slash"],
)
def test_codes_that_cannot_be_skus_are_400s(api, code, needle):
    before = rows()
    body = refused(api.post("/api/v1/skus/", {"code": code}, format="json"), needle)
    assert body["error"] == "invalid_operation"
    assert body["detail"]["field"] == "code"
    skus = {"skus": [{"code": "OK-1"}, {"code": code}]}
    bulk = api.post("/api/v1/skus/bulk/", skus, format="json")
    assert refused(bulk, needle)["detail"]["index"] == 1
    assert rows() == before


def test_the_slash_message_suggests_a_code_that_works(api):
    response = api.post("/api/v1/skus/", {"code": "TEE/RED/M"}, format="json")
    assert "'TEE-RED-M'" in response.json()["message"]
    assert api.post("/api/v1/skus/", {"code": "TEE-RED-M"}, format="json").status_code == 201


def test_a_code_with_a_slash_made_before_the_rule_stays_reachable(api):
    SkuFactory(code="TEE/RED/M")
    listed = api.get("/api/v1/skus/", {"search": "TEE/RED"}).json()["results"]
    assert [row["code"] for row in listed] == ["TEE/RED/M"]
    receipt = {"sku": "tee/red/m", "kind": "receipt", "quantity": 2}
    assert api.post("/api/v1/movements/", receipt, format="json").status_code == 201


def test_surrounding_space_is_trimmed_and_a_plain_inner_space_is_fine(api):
    response = api.post("/api/v1/skus/", {"code": "  TEE RED  "}, format="json")
    assert response.status_code == 201
    assert response.json()["code"] == "TEE RED"


def test_the_dashboard_form_shows_the_catalogue_s_message(merchant):
    before = rows()
    response = merchant.post("/skus/new/", {"code": "TEE\u202eRED", "title": "Tee"})
    assert response.status_code == 422
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4" in response.content.decode()
    assert rows() == before


def test_a_code_sent_as_a_number_is_a_400(api):
    refused(api.post("/api/v1/skus/", {"code": 0}, format="json"), "code: Not a valid string.")
    assert not Sku.objects.exists()


# --- JSON bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"code": "D1", "attributes": ' + '{"a": ' * 990 + "{}" + "}" * 990 + "}",
        '{"code": "D1", "attributes": ' + "[" * 64 + "]" * 64 + "}",
    ],
    ids=["open-brackets", "attributes-990-deep", "attributes-65-deep"],
)
def test_json_nested_too_deep_is_a_400(api, body):
    before = rows()
    response = api.generic("POST", "/api/v1/skus/", body, content_type="application/json")
    assert refused(response, "nested deeper than 64 levels")["error"] == "parse_error"
    assert rows() == before


def test_json_nested_within_the_limit_is_fine(api):
    body = '{"code": "D1", "attributes": ' + '{"a": ' * 60 + "1" + "}" * 60 + "}"
    response = api.generic("POST", "/api/v1/skus/", body, content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    ['{"code": "U1"}'.encode("utf-16"), b'{"code": "\xff"}', b'{"code": "\\ud800"}'],
    ids=["utf-16", "latin-1", "lone-surrogate"],
)
def test_json_that_is_not_utf8_text_is_a_400(api, body):
    response = api.generic("POST", "/api/v1/skus/", body, content_type="application/json")
    refused(response, "")
    assert not Sku.objects.exists()


# --- quantities -------------------------------------------------------------------------


def fill(api, code: str = "MUG-1") -> None:
    """Two billion on hand: two receipts of the largest quantity one line may have."""
    for _ in range(2):
        line = {"sku": code, "quantity": 1_000_000_000}
        assert api.post("/api/v1/receipts/", {"lines": [line]}, format="json").status_code == 201


def test_a_receipt_that_overflows_the_stock_level_is_a_400(api, mug):
    fill(api)
    sku_create(code="CUP-1")
    before = rows()
    lines = [{"sku": "CUP-1", "quantity": 5}, {"sku": "MUG-1", "quantity": 1_000_000_000}]
    response = api.post("/api/v1/receipts/", {"lines": lines}, format="json")
    refused(response, "A stock level holds at most 2,147,483,647 units: this receipt would make")
    assert rows() == before
    assert StockLevel.objects.get(sku=mug).on_hand == 2_000_000_000
    assert not StockLevel.objects.filter(sku__code="CUP-1", on_hand__gt=0).exists()


def test_a_movement_that_overflows_the_stock_level_is_a_400_on_quantity(api, mug):
    fill(api)
    before = rows()
    movement = {"sku": "MUG-1", "kind": "adjustment", "quantity": 500_000_000}
    body = refused(api.post("/api/v1/movements/", movement, format="json"), "quantity: A stock")
    assert set(body["detail"]) == {"quantity"}
    assert rows() == before


# --- races ------------------------------------------------------------------------------


def run_concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def one(index: int):
        try:
            barrier.wait(timeout=60)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def spelling(index: int) -> str:
    """TEE-RED-M in another mix of upper and lower case for each index."""
    return "".join(c.lower() if index >> i & 1 else c for i, c in enumerate("TEE-RED-M"))


@pytest.fixture
def token_client(transactional_db):
    token = Token.objects.create(user=role_user("Admin"))

    def client() -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return client


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("url", ["/api/v1/skus/", "/api/v1/skus/bulk/"])
def test_20_parallel_creates_of_one_code_make_one_sku_and_19_400s(token_client, url):
    def create(index: int):
        body = {"code": spelling(index)}
        response = token_client().post(
            url, {"skus": [body]} if "bulk" in url else body, format="json"
        )
        return response.status_code, response.json().get("message", "")

    answers = run_concurrently(20, create)
    assert Counter(status for status, _ in answers) == {201: 1, 400: 19}
    assert all("already exists" in message for status, message in answers if status == 400)
    assert Sku.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_20_parallel_creates_of_one_channel_slug_make_one_channel(token_client):
    def create(index: int):
        body = {"slug": "web", "kind": "sandbox", "name": f"Web {index}"}
        response = token_client().post("/api/v1/channels/", body, format="json")
        return response.status_code, response.json().get("message", "")

    answers = run_concurrently(20, create)
    assert Counter(status for status, _ in answers) == {201: 1, 400: 19}
    assert all("already exists" in message for status, message in answers if status == 400)
    assert Channel.objects.count() == 1


# --- channels ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["standard", "sandbox"])
@pytest.mark.parametrize("secret", ["not base64!", "whsec_***", "whsec_"])
def test_a_standard_webhooks_secret_that_is_not_base64_is_a_400(api, kind, secret):
    before = rows()
    body = {"slug": "std", "kind": kind, "name": "Std", "webhook_secret": secret}
    response = api.post("/api/v1/channels/", body, format="json")
    body = refused(response, "Unusable webhook secret")
    assert body["detail"]["field"] == "webhook_secret"
    assert rows() == before


def test_an_unusable_secret_is_refused_on_update_and_the_old_one_kept(api):
    secret = make_standard_secret()
    channel = channel_create(slug="std", kind="standard", name="Std", webhook_secret=secret)
    response = api.patch("/api/v1/channels/std/", {"webhook_secret": "s3cret!"}, format="json")
    refused(response, "Unusable webhook secret")
    channel.refresh_from_db()
    assert (channel.webhook_secret, channel.previous_webhook_secret) == (secret, "")


def test_a_base64_secret_without_the_prefix_is_accepted(api):
    secret = base64.b64encode(b"k" * 24).decode()
    body = {"slug": "std", "kind": "standard", "name": "Std", "webhook_secret": secret}
    assert api.post("/api/v1/channels/", body, format="json").status_code == 201


def test_other_kinds_keep_their_own_secret_formats(api):
    body = {"slug": "shop", "kind": "shopify", "name": "Shop", "webhook_secret": "shpss_x!"}
    assert api.post("/api/v1/channels/", body, format="json").status_code == 201


def test_a_shopify_body_in_utf16_is_a_400_and_not_stored(db):
    secret = "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"
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret=secret)
    body = '{"id": 1, "line_items": []}'.encode("utf-16")
    headers = {
        **sign_shopify(body, secret),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "e-1",
    }
    response = Client().post(
        "/webhooks/shop/", body, content_type="application/json", headers=headers
    )
    refused(response, "UTF-16 or UTF-32")
    assert not InboundEvent.objects.exists()


# --- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/nothing-here/", "/api/v1/reservations/abc/", "/api/v1/channels/%C2%9A/"]
)
def test_an_address_with_no_route_under_the_api_is_a_json_404(api, url):
    assert refused(api.get(url), "nothing at this address", status=404)["error"] == "not_found"


def test_a_channel_s_numeric_ids_are_taken_as_text(api, web, mug):
    stock = {"sku": "MUG-1", "kind": "receipt", "quantity": 5}
    assert api.post("/api/v1/movements/", stock, format="json").status_code == 201
    order = {"sku": "MUG-1", "quantity": 1, "order_id": 5012345678}
    response = api.post("/api/v1/reservations/", order, format="json")
    assert response.status_code == 201
    assert response.json()["order_id"] == "5012345678"
    listing = {"sku": "MUG-1", "external_id": 44012345678}
    response = api.post("/api/v1/channels/web/listings/", listing, format="json")
    assert (response.status_code, response.json()["external_id"]) == (201, "44012345678")
    order = {"sku": "MUG-1", "quantity": 1, "order_id": 1.5}
    refused(api.post("/api/v1/reservations/", order, format="json"), "order_id")
