"""Shopify's webhook documents (tests/contracts/shopify/SOURCES.md) through the verifier
and the parser: signed as Shopify signs (base64 HMAC-SHA256 of the raw body, keyed by the
app's client secret), computed here independently of channels.webhooks.signing."""

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

SECRET = "shpss_contract_0123456789abcdef"
NOW = datetime(2025, 11, 3, 20, 0, tzinfo=UTC)


def deliver(name: str, topic: str, *, secret: str = SECRET):
    body = document_bytes("shopify", name)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    headers = {
        "X-Shopify-Hmac-Sha256": signature.decode(),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "contract.myshopify.com",
        "X-Shopify-Webhook-Id": f"wh-{name}",
        "X-Shopify-Event-Id": f"ev-{name}",
        "X-Shopify-Triggered-At": "2025-11-03T19:22:10.000Z",
    }
    return verify_delivery(
        "shopify",
        body=body,
        headers=headers,
        method="POST",
        query={},
        secrets=[SECRET],
        settings={},
        now=NOW,
    )


@pytest.mark.parametrize(
    ("name", "topic", "kind"),
    [
        ("webhook_orders_create.json", "orders/create", "placed"),
        ("webhook_orders_cancelled.json", "orders/cancelled", "cancelled"),
        ("webhook_orders_fulfilled.json", "orders/fulfilled", "fulfilled"),
        ("webhook_refunds_create.json", "refunds/create", "refunded"),
    ],
)
def test_order_topics_verify_and_parse(name, topic, kind):
    delivery = deliver(name, topic)

    [event] = parse_events("shopify", delivery.topic, delivery.payload)

    assert isinstance(event, OrderEvent)
    assert event.kind == kind
    assert event.lines and all(line.sku and line.quantity > 0 for line in event.lines)


def test_a_level_report_names_its_location():
    delivery = deliver("webhook_inventory_levels_update.json", "inventory_levels/update")

    [event] = parse_events("shopify", delivery.topic, delivery.payload)

    assert isinstance(event, LevelReported)
    assert (event.external_id, event.quantity, event.location_id) == (
        "46200000000101",
        17,
        "24826418",
    )
    assert event.concerns_location("gid://shopify/Location/24826418")


def test_a_level_at_another_location_is_not_the_published_ones():
    delivery = deliver(
        "webhook_inventory_levels_update_other_location.json", "inventory_levels/update"
    )

    [event] = parse_events("shopify", delivery.topic, delivery.payload)

    assert event.location_id == "24826419"
    assert not event.concerns_location("24826418")
    assert not event.concerns_location("gid://shopify/Location/24826418")


def test_a_delivery_signed_with_another_secret_is_refused():
    with pytest.raises(SignatureInvalid):
        deliver("webhook_orders_create.json", "orders/create", secret="shpss_other")
