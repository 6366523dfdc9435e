"""WooCommerce's webhook documents (tests/contracts/woocommerce/SOURCES.md) through the
verifier and the parser. WooCommerce signs ``trim(wp_json_encode($payload))`` with
``base64_encode(hash_hmac('sha256', $body, wp_specialchars_decode($secret, ENT_QUOTES),
true))`` (class-wc-webhook.php): the HMAC here is computed independently, with the
decoded secret written out by hand."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from channels.webhooks import LevelReported, OrderEvent
from channels.webhooks.errors import SignatureInvalid
from channels.webhooks.parse import parse_events
from channels.webhooks.verify import verify_delivery
from tests.contracts.support import document_bytes

# As WooCommerce may store it (entities), and as it keys the HMAC (decoded).
STORED_SECRET = "w00&amp;c0mmerce&#039;s &quot;secret&quot;"
SIGNING_KEY = 'w00&c0mmerce\'s "secret"'
NOW = datetime(2025, 11, 10, tzinfo=UTC)


def deliver(name: str, topic: str, *, key: str = SIGNING_KEY, body: bytes | None = None):
    body = document_bytes("woocommerce", name) if body is None else body
    headers = {
        "X-WC-Webhook-Signature": base64.b64encode(
            hmac.new(key.encode(), body, hashlib.sha256).digest()
        ).decode(),
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-ID": "41",
        "X-WC-Webhook-Delivery-ID": "0d9c5f1e7a3b",
    }
    return verify_delivery(
        "woocommerce",
        body=body,
        headers=headers,
        method="POST",
        query={},
        secrets=[STORED_SECRET],
        settings={},
        now=NOW,
    )


@pytest.mark.parametrize(
    ("name", "topic", "kind"),
    [
        ("webhook_order_created.json", "order.created", "placed"),
        ("webhook_order_updated_cancelled.json", "order.updated", "cancelled"),
        ("webhook_order_refunded.json", "order.updated", "refunded"),
    ],
)
def test_order_topics_signed_with_the_decoded_secret_verify_and_parse(name, topic, kind):
    delivery = deliver(name, topic)

    [event] = parse_events("woocommerce", delivery.topic, delivery.payload)

    assert isinstance(event, OrderEvent)
    assert event.kind == kind


def test_a_product_that_manages_its_stock_reports_its_level():
    delivery = deliver("webhook_product_updated.json", "product.updated")

    [event] = parse_events("woocommerce", delivery.topic, delivery.payload)

    assert isinstance(event, LevelReported)
    assert (event.sku, event.external_id, event.quantity) == ("PIN-FOX", "131", 37)


@pytest.mark.parametrize(
    "name",
    [
        # The parent holds the stock and sends its own product.updated; the variation's
        # stock_quantity is the parent's and is not this listing's level.
        "webhook_product_updated_parent_managed.json",
        # WooCommerce does not count this product at all.
        "webhook_product_updated_unmanaged.json",
    ],
)
def test_a_product_whose_stock_is_not_its_own_reports_nothing(name):
    delivery = deliver(name, "product.updated")

    assert parse_events("woocommerce", delivery.topic, delivery.payload) == []


def test_a_signature_keyed_with_the_stored_entities_is_not_woocommerces():
    with pytest.raises(SignatureInvalid):
        deliver("webhook_order_created.json", "order.created", key=STORED_SECRET)


def test_the_creation_ping_is_answered_and_carries_nothing():
    delivery = verify_delivery(
        "woocommerce",
        body=document_bytes("woocommerce", "webhook_ping.txt"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
        query={},
        secrets=[STORED_SECRET],
        settings={},
        now=NOW,
    )

    assert delivery.ping
    assert delivery.payload == {"webhook_id": "41"}
