"""A signed body is believed only under a topic it agrees with (topics.py).

Shopify and WooCommerce sign the body, not the topic header: each real body is sent under
every topic of its kind, and only the topics it can truly be pass.
"""

from typing import Any

import pytest

from channels.webhooks.errors import MalformedDelivery, TopicMismatch
from channels.webhooks.events import OrderEvent
from channels.webhooks.parse import parse_events
from channels.webhooks.signing import sign_shopify, sign_woocommerce
from channels.webhooks.topics import TOPIC_RULES

from .support import SECRET, fixture_body, fixture_json, verify

SHOPIFY_TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/paid",
    "refunds/create",
    "inventory_levels/update",
]
# fixture -> {topic it is sent under: why it is refused}; every other topic accepts it.
SHOPIFY_REFUSALS: dict[str, dict[str, str]] = {
    "shopify/orders_create.json": {
        "orders/cancelled": "cancelled_at must be set, got null",
        "orders/fulfilled": "fulfillment_status must be 'fulfilled', got null",
        "refunds/create": "refund_line_items must be a JSON array, got nothing",
        "inventory_levels/update": "inventory_item_id must be set, got nothing",
    },
    "shopify/orders_cancelled.json": {
        "orders/create": "cancelled_at must be null or absent, got '2025-11-03T16:05:39-05:00'",
        "orders/fulfilled": "fulfillment_status must be 'fulfilled', got null",
        "orders/paid": "financial_status must be 'paid', got 'refunded'",
        "refunds/create": "refund_line_items must be a JSON array, got nothing",
        "inventory_levels/update": "inventory_item_id must be set, got nothing",
    },
    "shopify/orders_fulfilled.json": {
        "orders/cancelled": "cancelled_at must be set, got null",
        "refunds/create": "refund_line_items must be a JSON array, got nothing",
        "inventory_levels/update": "inventory_item_id must be set, got nothing",
    },
    # Refunds nested in an order (its `refunds`) do not make the order a refund.
    "shopify/orders_updated.json": {
        "orders/cancelled": "cancelled_at must be set, got null",
        "orders/fulfilled": "fulfillment_status must be 'fulfilled', got 'partial'",
        "orders/paid": "financial_status must be 'paid', got 'partially_refunded'",
        "refunds/create": "refund_line_items must be a JSON array, got nothing",
        "inventory_levels/update": "inventory_item_id must be set, got nothing",
    },
    "shopify/refunds_create.json": {
        topic: "line_items must be a JSON array, got nothing"
        for topic in SHOPIFY_TOPICS
        if topic.startswith("orders/")
    }
    | {
        "inventory_levels/update": "inventory_item_id must be set, got nothing",
    },
    "shopify/inventory_levels_update.json": {
        topic: "line_items must be a JSON array, got nothing"
        for topic in SHOPIFY_TOPICS
        if topic.startswith("orders/")
    }
    | {"refunds/create": "refund_line_items must be a JSON array, got nothing"},
}
SHOPIFY_CASES = [
    (fixture, topic, refusals.get(topic))
    for fixture, refusals in SHOPIFY_REFUSALS.items()
    for topic in SHOPIFY_TOPICS
]


@pytest.mark.parametrize(("fixture", "topic", "refusal"), SHOPIFY_CASES)
def test_shopify_body_is_believed_only_under_a_topic_it_agrees_with(
    fixture: str, topic: str, refusal: str | None
) -> None:
    payload = fixture_json(fixture)

    if refusal is None:
        parse_events("shopify", topic, payload)
        return
    with pytest.raises(TopicMismatch) as caught:
        parse_events("shopify", topic, payload)

    assert str(caught.value).endswith(refusal)
    assert f"X-Shopify-Topic {topic!r}" in str(caught.value)
    assert caught.value.status_code == 400


def test_shopify_mismatch_message_says_what_the_body_is_not() -> None:
    with pytest.raises(TopicMismatch) as caught:
        parse_events("shopify", "orders/cancelled", fixture_json("shopify/orders_create.json"))

    assert str(caught.value) == (
        "the body is not a cancelled order as X-Shopify-Topic 'orders/cancelled' claims (the "
        "signature covers the body, not the topic): cancelled_at must be set, got null"
    )


def test_signed_order_relabelled_as_cancelled_with_a_new_id_is_refused() -> None:
    # The finding: a captured orders/create, re-sent as orders/cancelled with a fresh
    # Webhook-Id, used to release the order's reservation.
    body = fixture_body("shopify/orders_create.json")
    headers = {
        **sign_shopify(body, SECRET),
        "X-Shopify-Topic": "orders/cancelled",
        "X-Shopify-Webhook-Id": "forged-delivery-2",
    }

    delivery = verify("shopify", body, headers)  # the signature is genuine

    with pytest.raises(TopicMismatch, match="cancelled_at must be set") as caught:
        parse_events("shopify", delivery.topic, delivery.payload)
    assert isinstance(caught.value, MalformedDelivery)  # what the view answers 400


def test_shopify_creation_without_cancelled_at_field_is_still_an_order() -> None:
    payload = fixture_json("shopify/orders_create.json")
    del payload["cancelled_at"]

    [event] = parse_events("shopify", "orders/create", payload)

    assert isinstance(event, OrderEvent)
    assert event.kind == "placed"


@pytest.mark.parametrize(
    ("topic", "field", "value", "refusal"),
    [
        ("orders/cancelled", "cancelled_at", None, "cancelled_at must be set, got null"),
        ("orders/fulfilled", "fulfillment_status", "partial", "got 'partial'"),
        ("orders/fulfilled", "fulfillment_status", None, "got null"),
        ("orders/paid", "financial_status", "pending", "got 'pending'"),
        ("orders/paid", "financial_status", "authorized", "got 'authorized'"),
        (
            "orders/create",
            "line_items",
            {"0": {}},
            "line_items must be a JSON array, got an object",
        ),
        ("orders/create", "refund_line_items", [], "refund_line_items must be absent"),
        ("refunds/create", "line_items", [], "line_items must be absent"),
        ("refunds/create", "order_id", None, "order_id must be set, got null"),
        ("inventory_levels/update", "line_items", [], "line_items must be absent"),
    ],
)
def test_one_field_out_of_step_with_the_topic_is_refused(
    topic: str, field: str, value: Any, refusal: str
) -> None:
    fixture = {
        "orders/cancelled": "shopify/orders_cancelled.json",
        "orders/fulfilled": "shopify/orders_fulfilled.json",
        "orders/paid": "shopify/orders_create.json",
        "orders/create": "shopify/orders_create.json",
        "refunds/create": "shopify/refunds_create.json",
        "inventory_levels/update": "shopify/inventory_levels_update.json",
    }[topic]
    payload = {**fixture_json(fixture), field: value}

    with pytest.raises(TopicMismatch, match=refusal):
        parse_events("shopify", topic, payload)


@pytest.mark.parametrize("topic", ["products/update", "app/uninstalled", "orders/edited"])
def test_shopify_topics_without_a_rule_move_nothing_whatever_the_body(topic: str) -> None:
    assert ("shopify", topic) not in TOPIC_RULES
    assert parse_events("shopify", topic, fixture_json("shopify/refunds_create.json")) == []


# --- WooCommerce -----------------------------------------------------------------

WOO_TOPICS = ["order.created", "order.updated", "product.created", "product.updated"]
WOO_FIXTURES = {
    "woocommerce/order_created.json": "order",
    "woocommerce/order_refunded.json": "order",
    "woocommerce/product_updated.json": "product",
}


@pytest.mark.parametrize("topic", WOO_TOPICS)
@pytest.mark.parametrize(("fixture", "resource"), WOO_FIXTURES.items())
def test_woocommerce_body_is_believed_only_under_its_resources_topics(
    fixture: str, resource: str, topic: str
) -> None:
    payload = fixture_json(fixture)

    if topic.startswith(f"{resource}."):
        parse_events("woocommerce", topic, payload)
        return
    refusal = (
        "line_items must be a JSON array, got nothing"
        if resource == "product"
        else "line_items must be absent (an order has them), got an array"
    )
    with pytest.raises(TopicMismatch) as caught:
        parse_events("woocommerce", topic, payload)
    assert str(caught.value).endswith(refusal)
    assert f"X-WC-Webhook-Topic {topic!r}" in str(caught.value)


@pytest.mark.parametrize("topic", ["order.created", "order.updated"])
def test_woocommerce_event_comes_from_the_signed_status_not_the_topic(topic: str) -> None:
    # Woo builds the payload when it delivers: an order.created delivered after the
    # order was cancelled says so, and a created/updated swap changes nothing.
    payload = {**fixture_json("woocommerce/order_created.json"), "status": "cancelled"}

    [event] = parse_events("woocommerce", topic, payload)

    assert isinstance(event, OrderEvent)
    assert event.kind == "cancelled"


def test_woocommerce_signed_product_relabelled_as_an_order_is_refused() -> None:
    body = fixture_body("woocommerce/product_updated.json")
    headers = {
        **sign_woocommerce(body, SECRET),
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-ID": "99",
    }
    delivery = verify("woocommerce", body, headers)

    with pytest.raises(TopicMismatch, match="line_items must be a JSON array"):
        parse_events("woocommerce", delivery.topic, delivery.payload)


def test_woocommerce_deleted_order_carries_only_its_id_and_is_not_ruled() -> None:
    assert ("woocommerce", "order.deleted") not in TOPIC_RULES
    assert parse_events("woocommerce", "order.deleted", {"id": 727}) == []


# --- kinds whose topic is inside the body ----------------------------------------


@pytest.mark.parametrize(
    ("kind", "fixture", "topic", "refusal"),
    [
        (
            "standard",
            "standard/order_created.json",
            "order.cancelled",
            "the body names its topic 'order.created' at type, not 'order.cancelled'",
        ),
        (
            "sandbox",
            "standard/inventory_level.json",
            "order.created",
            "the body names its topic 'inventory.level' at type, not 'order.created'",
        ),
        (
            "ebay",
            "ebay/order_confirmation.json",
            "ITEM_MARKED_SHIPPED",
            "the body names its topic 'ORDER_CONFIRMATION' at metadata.topic, "
            "not 'ITEM_MARKED_SHIPPED'",
        ),
        (
            "amazon",
            "amazon/order_change.json",
            "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "the body names its topic 'ORDER_CHANGE' at NotificationType, "
            "not 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE'",
        ),
    ],
)
def test_topic_named_in_the_body_must_be_the_one_parsed(
    kind: str, fixture: str, topic: str, refusal: str
) -> None:
    # verify takes these topics from the body, so only a caller could get them wrong.
    with pytest.raises(TopicMismatch) as caught:
        parse_events(kind, topic, fixture_json(fixture))

    assert str(caught.value) == refusal


@pytest.mark.parametrize(
    ("kind", "fixture", "topic"),
    [
        ("standard", "standard/order_created.json", "order.created"),
        ("ebay", "ebay/order_confirmation.json", "ORDER_CONFIRMATION"),
        ("amazon", "amazon/order_change.json", "ORDER_CHANGE"),
    ],
)
def test_topic_named_in_the_body_and_parsed_agree(kind: str, fixture: str, topic: str) -> None:
    [event] = parse_events(kind, topic, fixture_json(fixture))

    assert isinstance(event, OrderEvent)
