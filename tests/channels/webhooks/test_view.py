"""Through POST /webhooks/<slug>/: a body that disagrees with its topic, or that cannot be
stored, is answered 400 and never reaches the inbox; one the hub cannot read is parked.
(The only tests here that need a database: the view looks the channel up.)"""

import json

import pytest

from channels.models import InboundEvent
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret, sign_shopify

from .support import SECRET, fixture_body, fixture_json

ORDER = fixture_body("shopify/orders_create.json")


@pytest.fixture
def shop(db):
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret=SECRET)


def post(client, body: bytes, topic: str, event_id: str):
    headers = {
        **sign_shopify(body, SECRET),
        "X-Shopify-Topic": topic,
        "X-Shopify-Event-Id": event_id,
    }
    return client.post("/webhooks/shop/", body, content_type="application/json", headers=headers)


def test_the_matching_topic_is_accepted(client, shop) -> None:
    response = post(client, ORDER, "orders/create", "e-1")

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"


def test_a_signed_order_under_another_topic_is_refused_and_not_stored(client, shop) -> None:
    assert post(client, ORDER, "orders/create", "e-1").status_code == 200

    response = post(client, ORDER, "orders/cancelled", "e-2")

    assert response.status_code == 400
    assert response.json()["error"] == "topic_mismatch"
    assert "cancelled_at must be set, got null" in response.json()["message"]
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (ORDER.decode().encode("utf-16"), "UTF-16 or UTF-32"),
        (b"\xef\xbb\xbf" + ORDER, "byte-order mark"),
        (b"[" * 100_000, "deeper than 64 levels"),
        (b'{"a":' * 989 + b"{}" + b"}" * 989, "deeper than 64 levels"),
    ],
    ids=["utf-16", "bom", "open-brackets", "990-levels"],
)
def test_bodies_that_cannot_be_read_are_refused_not_a_500(client, shop, body, complaint) -> None:
    response = post(client, body, "orders/create", "e-1")

    assert response.status_code == 400
    assert complaint in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_a_sku_holding_nul_cannot_be_stored_and_is_refused(client, shop) -> None:
    payload = fixture_json("shopify/orders_create.json")
    payload["line_items"][0]["sku"] = "MUG\x00"

    response = post(client, json.dumps(payload).encode(), "orders/create", "e-1")

    assert response.status_code == 400
    assert "control character" in response.json()["message"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("sku", "complaint"),
    [
        ("ß" * 60, "120 characters once case-folded"),
        ("X" * 101, "longer than 100 characters"),
    ],
)
def test_skus_the_hub_cannot_hold_park_the_delivery_as_unreadable(
    client, shop, sku, complaint
) -> None:
    payload = fixture_json("shopify/orders_create.json")
    payload["line_items"][0]["sku"] = sku

    response = post(client, json.dumps(payload).encode(), "orders/create", "e-1")

    assert response.status_code == 200
    assert response.json()["status"] == "unreadable"
    event = InboundEvent.objects.get()
    assert (event.status, complaint in event.error) == ("unreadable", True)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_webhook_url_answers_other_methods_with_405_and_stores_nothing(client, method):
    channel_create(slug="web", kind="sandbox", name="Web", webhook_secret=make_standard_secret())
    answer = getattr(client, method)("/webhooks/web/", b"{}", content_type="application/json")
    assert answer.status_code == 405
    assert answer["Allow"] == "GET, POST"
    assert answer.json()["error"] == "method_not_allowed"
    assert not InboundEvent.objects.exists()
