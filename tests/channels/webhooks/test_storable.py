"""Nothing that cannot be stored passes the door: bodies that are not UTF-8 JSON of sane
depth, and ids, SKUs and topics with control characters or past their columns' limits,
are refused as malformed (400) by verify or parse, not by the database later."""

import copy
import json
from typing import Any

import pytest

from channels.webhooks import _fields
from channels.webhooks.errors import MalformedDelivery
from channels.webhooks.events import OrderEvent
from channels.webhooks.parse import parse_amazon_notification, parse_events
from channels.webhooks.signing import make_standard_secret, sign_shopify, sign_standard

from .support import NOW, SECRET, fixture_body, fixture_json, verify

ORDER = fixture_body("shopify/orders_create.json")
CONTROL_CHARACTERS = ["\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f", "\ud800"]


def shopify(body: bytes, **headers: str) -> Any:
    signed = {
        **sign_shopify(body, SECRET),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "e-1",
        **headers,
    }
    return verify("shopify", body, signed)


def _set(payload: Any, value: Any, *path: str | int) -> Any:
    changed = copy.deepcopy(payload)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


# --- body encoding -----------------------------------------------------------------


def test_utf8_body_without_bom_is_read() -> None:
    assert shopify(ORDER).payload["id"] == 5871234567890


@pytest.mark.parametrize(
    ("encoded", "complaint"),
    [
        (ORDER.decode().encode("utf-16"), "Shopify body looks UTF-16 or UTF-32 encoded"),
        (ORDER.decode().encode("utf-16-le"), "Shopify body looks UTF-16 or UTF-32 encoded"),
        (ORDER.decode().encode("utf-16-be"), "Shopify body looks UTF-16 or UTF-32 encoded"),
        (ORDER.decode().encode("utf-32"), "Shopify body looks UTF-16 or UTF-32 encoded"),
        (b"\xef\xbb\xbf" + ORDER, "Shopify body starts with a UTF-8 byte-order mark"),
        (
            '{"id": 1, "note": "caf\xe9"}'.encode("latin-1"),
            "Shopify body is not UTF-8 (byte 22: invalid continuation byte)",
        ),
    ],
)
def test_body_that_is_not_utf8_is_refused_clearly(encoded: bytes, complaint: str) -> None:
    with pytest.raises(MalformedDelivery) as caught:
        shopify(encoded)

    assert str(caught.value).startswith(complaint)
    assert str(caught.value).endswith("webhook bodies must be UTF-8 JSON without a byte-order mark")


def test_amazon_message_with_a_bom_is_refused() -> None:
    message = "\ufeff" + fixture_body("amazon/order_change.json").decode()

    with pytest.raises(MalformedDelivery, match="Amazon body starts with a byte-order mark"):
        parse_amazon_notification(message)


def test_standard_body_in_utf16_is_refused_after_its_signature() -> None:
    secret = make_standard_secret()
    body = fixture_body("standard/order_created.json").decode().encode("utf-16")
    headers = sign_standard(body, secret, msg_id="msg_1", timestamp=int(NOW.timestamp()))

    with pytest.raises(MalformedDelivery, match="UTF-16 or UTF-32"):
        verify("standard", body, headers, secrets=[secret])


# --- nesting -------------------------------------------------------------------------


def _nested(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 990 + b"]" * 990,
        _nested(990),
        _nested(_fields.MAX_JSON_DEPTH + 1),
    ],
    ids=["100000-open-brackets", "990-arrays", "990-objects", "one-level-too-deep"],
)
def test_deeply_nested_json_is_refused_not_a_recursion_error(body: bytes) -> None:
    with pytest.raises(MalformedDelivery) as caught:
        shopify(body)

    assert str(caught.value) == "Shopify body nests JSON deeper than 64 levels"


def test_nesting_up_to_the_limit_is_read() -> None:
    body = _nested(_fields.MAX_JSON_DEPTH)

    assert shopify(body).payload["a"]["a"]


def test_deep_nesting_inside_a_real_order_is_refused() -> None:
    payload = fixture_json("shopify/orders_create.json")
    payload["note_attributes"] = json.loads(_nested(80))

    with pytest.raises(MalformedDelivery, match="deeper than 64 levels"):
        shopify(json.dumps(payload).encode())


# --- ids, SKUs and topics from the body --------------------------------------------

SHOPIFY_ORDER = fixture_json("shopify/orders_create.json")
SHOPIFY_REFUND = fixture_json("shopify/refunds_create.json")
WOO_ORDER = fixture_json("woocommerce/order_created.json")
STANDARD_ORDER = fixture_json("standard/order_created.json")
EBAY_ORDER = fixture_json("ebay/order_confirmation.json")
AMAZON_ORDER = fixture_json("amazon/order_change.json")
AMAZON_ITEMS = ("Payload", "OrderChangeNotification", "Summary", "OrderItems")

# (kind, topic, payload, path to a stored string, how the message names it)
STORED_STRINGS = [
    ("shopify", "orders/create", SHOPIFY_ORDER, ("line_items", 0, "sku"), "line_items[0].sku"),
    ("shopify", "orders/create", SHOPIFY_ORDER, ("id",), "id"),
    ("shopify", "orders/create", SHOPIFY_ORDER, ("line_items", 1, "id"), "line_items[1].id"),
    (
        "shopify",
        "refunds/create",
        SHOPIFY_REFUND,
        ("refund_line_items", 0, "line_item", "sku"),
        "refund_line_items[0].line_item.sku",
    ),
    ("shopify", "refunds/create", SHOPIFY_REFUND, ("order_id",), "order_id"),
    ("woocommerce", "order.created", WOO_ORDER, ("line_items", 0, "sku"), "line_items[0].sku"),
    ("woocommerce", "order.created", WOO_ORDER, ("status",), "status"),
    (
        "standard",
        "order.created",
        STANDARD_ORDER,
        ("data", "lines", 1, "line_id"),
        "data.lines[1].line_id",
    ),
    ("standard", "order.created", STANDARD_ORDER, ("data", "order_id"), "data.order_id"),
    (
        "ebay",
        "ORDER_CONFIRMATION",
        EBAY_ORDER,
        ("notification", "data", "orderId"),
        "notification.data.orderId",
    ),
    (
        "amazon",
        "ORDER_CHANGE",
        AMAZON_ORDER,
        (*AMAZON_ITEMS, 0, "SellerSKU"),
        "Summary.OrderItems[0].SellerSKU",
    ),
    (
        "amazon",
        "ORDER_CHANGE",
        AMAZON_ORDER,
        ("Payload", "OrderChangeNotification", "AmazonOrderId"),
        "AmazonOrderId",
    ),
]


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
@pytest.mark.parametrize(
    ("kind", "topic", "payload", "path", "where"), STORED_STRINGS, ids=lambda v: str(v)[:30]
)
def test_control_characters_in_stored_strings_are_refused(
    kind: str, topic: str, payload: Any, path: tuple[Any, ...], where: str, character: str
) -> None:
    changed = _set(payload, f"AB{character}C", *path)

    with pytest.raises(MalformedDelivery) as caught:
        parse_events(kind, topic, changed)

    assert str(caught.value) == (
        f"{where} contains the control character {character!r} at position 2; ids, codes "
        "and topics cannot hold one"
    )


def test_sku_whitespace_around_the_code_is_trimmed_not_refused() -> None:
    payload = _set(SHOPIFY_ORDER, "\t BEANIE-CHAR \n", "line_items", 0, "sku")

    [event] = parse_events("shopify", "orders/create", payload)

    assert isinstance(event, OrderEvent)
    assert event.lines[0].sku == "BEANIE-CHAR"


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("line_items", 0, "sku"), "X" * 101, r"line_items\[0\]\.sku is longer than 100"),
        (("id",), "9" * 101, r"^id is longer than 100 characters"),
        (("line_items", 0, "id"), "7" * 101, r"line_items\[0\]\.id is longer than 100"),
        (
            ("line_items", 0, "sku"),
            "ß" * 60,
            r"line_items\[0\]\.sku is 120 characters once case-folded for matching, longer "
            r"than the 100 a SKU code may have",
        ),
        (("line_items", 0, "sku"), "ﬃ" * 34, r"is 102 characters once case-folded"),
    ],
)
def test_values_past_their_columns_are_refused(
    path: tuple[Any, ...], value: str, complaint: str
) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_events("shopify", "orders/create", _set(SHOPIFY_ORDER, value, *path))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("line_items", 0, "sku"), "X" * 100),
        (("line_items", 0, "sku"), "ß" * 50),
        (("id",), "9" * 100),
        (("line_items", 0, "id"), "7" * 100),
    ],
)
def test_values_at_their_limits_are_accepted(path: tuple[Any, ...], value: str) -> None:
    [event] = parse_events("shopify", "orders/create", _set(SHOPIFY_ORDER, value, *path))

    assert isinstance(event, OrderEvent)


def test_external_id_of_a_level_report_is_held_to_its_column() -> None:
    payload = {**fixture_json("shopify/inventory_levels_update.json")}
    payload["inventory_item_id"] = "1" * 256

    with pytest.raises(MalformedDelivery, match="inventory_item_id is longer than 255"):
        parse_events("shopify", "inventory_levels/update", payload)


@pytest.mark.parametrize("code", ["MUG-BLUE", "  Straße-ß ", "ǅungla", "İSTANBUL", "ﬃ-Σ"])
def test_sku_matching_form_is_the_ledgers(code: str) -> None:
    from ledger.models import normalize_sku_code

    assert _fields.sku_key(code) == normalize_sku_code(code)


# --- ids, topics and headers read by verify ----------------------------------------


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ({"X-Shopify-Topic": "orders/create\x00"}, r"X-Shopify-Topic header contains"),
        ({"X-Shopify-Topic": "orders/" + "x" * 94}, r"X-Shopify-Topic header is longer than 100"),
        ({"X-Shopify-Event-Id": "e-\x00"}, r"X-Shopify-Event-Id header contains the control"),
        ({"X-Shopify-Shop-Domain": "a\x00.myshopify.com"}, r"x-shopify-shop-domain header"),
        ({"User-Agent": "Shopify\x00"}, r"user-agent header contains '\\x00' at position 7"),
    ],
)
def test_unstorable_header_values_are_refused(headers: dict[str, str], complaint: str) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        shopify(ORDER, **headers)


def test_header_text_kept_for_audit_may_hold_a_tab() -> None:
    delivery = shopify(ORDER, **{"User-Agent": "Shopify\tCaptain Hook"})

    assert delivery.kept_headers["user-agent"] == "Shopify\tCaptain Hook"


def test_standard_type_is_held_to_the_topic_column() -> None:
    secret = make_standard_secret()
    body = json.dumps({"type": "order." + "x" * 95, "data": {}}).encode()
    headers = sign_standard(body, secret, msg_id="msg_1", timestamp=int(NOW.timestamp()))

    with pytest.raises(MalformedDelivery, match="^type is longer than 100 characters"):
        verify("standard", body, headers, secrets=[secret])


def test_woocommerce_modification_time_in_the_dedupe_key_is_clean() -> None:
    from channels.webhooks.signing import sign_woocommerce

    payload = {**fixture_json("woocommerce/order_created.json")}
    payload["date_modified_gmt"] = "2025-11-03T15:28:08\x00"
    body = json.dumps(payload).encode()
    headers = {
        **sign_woocommerce(body, SECRET),
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-ID": "14",
    }

    with pytest.raises(MalformedDelivery, match="date_modified_gmt contains"):
        verify("woocommerce", body, headers)


def test_amazon_notification_id_with_a_control_character_is_refused() -> None:
    message = fixture_json("amazon/order_change.json")
    message["NotificationMetadata"]["NotificationId"] = "4b1d\x00"

    with pytest.raises(MalformedDelivery, match=r"NotificationMetadata\.NotificationId contains"):
        parse_amazon_notification(json.dumps(message))
