"""Whatever a sender puts on the wire, intake either accepts it or raises WebhookRejected:
never a bare exception, which the view would turn into a 500 and a retry storm."""

import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.webhooks import _fields
from channels.webhooks.errors import MalformedDelivery, SignatureInvalid, WebhookRejected
from channels.webhooks.events import CanonicalEvent, OrderEvent
from channels.webhooks.parse import parse_amazon_notification, parse_events
from channels.webhooks.signing import (
    make_standard_secret,
    sign_ebay,
    sign_shopify,
    sign_standard,
    sign_woocommerce,
)
from channels.webhooks.verify import STANDARD_TOLERANCE, verify_delivery

from .support import NOW, SECRET, EbayKeyServer, fixture_json

KINDS = ["shopify", "woocommerce", "standard", "sandbox", "ebay", "amazon"]
STANDARD_SECRET = make_standard_secret()
KID = "fuzz-kid"
HEADER_NAMES = [
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Topic",
    "X-Shopify-Event-Id",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Triggered-At",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-ID",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-EBAY-SIGNATURE",
    "Content-Type",
]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings that break storage are drawn often: control characters, and codes whose
# case-folded form outgrows the SKU column.
hostile_text = st.sampled_from(["A\x00B", "\x1f", "ß" * 60, "9" * 101, "X\ud800"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
header_values = st.text(max_size=80) | st.sampled_from(
    ["v1,AAAA", "orders/create", "1762183800", "eyJhbGciOiJlY2RzYSJ9", "14", "msg_1"]
)


def _secrets(kind: str) -> list[str]:
    # A Shopify-style secret is not base64, which a standard channel refuses outright.
    return [STANDARD_SECRET] if kind in ("standard", "sandbox") else [SECRET]


def _settings(server: EbayKeyServer) -> dict[str, Any]:
    return {
        "notification_key_url": server.url_template,
        "verification_token": "t",
        "endpoint_url": "u",
    }


@FUZZ
@given(
    kind=st.sampled_from(KINDS),
    body=st.binary(max_size=400) | st.just(b"webhook_id=7"),
    headers=st.dictionaries(
        st.sampled_from(HEADER_NAMES) | st.text(max_size=20), header_values, max_size=6
    ),
    method=st.sampled_from(["POST", "GET", "PUT", "post"]),
    query=st.dictionaries(
        st.sampled_from(["challenge_code", "x"]), st.text(max_size=40), max_size=2
    ),
)
def test_arbitrary_requests_are_accepted_or_rejected_cleanly(
    ebay_key_server: EbayKeyServer,
    kind: str,
    body: bytes,
    headers: dict[str, str],
    method: str,
    query: dict[str, str],
) -> None:
    try:
        delivery = verify_delivery(
            kind,
            body=body,
            headers=headers,
            method=method,
            query=query,
            secrets=_secrets(kind),
            settings=_settings(ebay_key_server),
            now=NOW,
        )
    except WebhookRejected:
        return
    # Only the unsigned handshakes can get through without a valid signature.
    assert delivery.ping or delivery.challenge_response is not None


def _assert_storable(events: list[CanonicalEvent]) -> None:
    """What parse returns fits the columns intake writes it to, as the database sees it."""
    for event in events:
        if isinstance(event, OrderEvent):
            values = [(event.order_id, _fields.MAX_REF_LENGTH)]
            for line in event.lines:
                values += [
                    (line.sku, _fields.MAX_SKU_LENGTH),
                    (line.line_ref, _fields.MAX_REF_LENGTH),
                ]
                assert len(_fields.sku_key(line.sku)) <= _fields.MAX_SKU_LENGTH
        else:
            values = [(event.external_id, _fields.MAX_ID_LENGTH)]
            if event.sku is not None:
                values.append((event.sku, _fields.MAX_SKU_LENGTH))
        for value, limit in values:
            assert 0 < len(value) <= limit
            assert value.encode("utf-8")  # no lone surrogate
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)


def _signed_headers(
    kind: str, body: bytes, topic: str, private_key: ec.EllipticCurvePrivateKey
) -> dict[str, str]:
    if kind == "shopify":
        return {**sign_shopify(body, SECRET), "X-Shopify-Topic": topic, "X-Shopify-Event-Id": "1"}
    if kind == "woocommerce":
        return {
            **sign_woocommerce(body, SECRET),
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-ID": "14",
        }
    if kind == "ebay":
        return sign_ebay(body, private_key, kid=KID)
    return sign_standard(body, STANDARD_SECRET, msg_id="msg_fuzz", timestamp=int(NOW.timestamp()))


TOPICS = {
    "shopify": [
        "orders/create",
        "orders/cancelled",
        "orders/fulfilled",
        "refunds/create",
        "inventory_levels/update",
    ],
    "woocommerce": ["order.created", "order.updated", "product.updated"],
    "standard": ["order.created", "order.refunded", "inventory.level"],
    "ebay": ["ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED", "ITEM_AVAILABILITY"],
    "amazon": ["ORDER_CHANGE", "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"],
}


def _enveloped(kind: str, topic: str, payload: Any) -> Any:
    """Arbitrary content inside just enough envelope to reach the parser."""
    if kind == "standard" and isinstance(payload, dict):
        return {**payload, "type": topic}
    if kind == "ebay":
        return {
            "metadata": {"topic": topic},
            "notification": {"notificationId": "n-1", "data": payload},
        }
    return payload


@FUZZ
@given(
    data=st.data(),
    kind=st.sampled_from(["shopify", "woocommerce", "standard", "ebay"]),
    payload=json_values,
)
def test_signed_arbitrary_json_is_parsed_or_refused_as_malformed(
    ebay_key_server: EbayKeyServer,
    ebay_private_key: ec.EllipticCurvePrivateKey,
    data: st.DataObject,
    kind: str,
    payload: Any,
) -> None:
    ebay_key_server.add_key(KID, ebay_private_key)
    topic = data.draw(st.sampled_from(TOPICS[kind]))
    body = json.dumps(_enveloped(kind, topic, payload)).encode()
    try:
        delivery = verify_delivery(
            kind,
            body=body,
            headers=_signed_headers(kind, body, topic, ebay_private_key),
            method="POST",
            query={},
            secrets=_secrets(kind),
            settings=_settings(ebay_key_server),
            now=NOW,
        )
        events = parse_events(kind, delivery.topic, delivery.payload)
    # A correctly signed delivery is never refused for its signature.
    except MalformedDelivery:
        return
    assert len(delivery.topic) <= _fields.MAX_TOPIC_LENGTH
    _assert_storable(events)


FIXTURES = {
    "shopify": {
        "orders/create": "shopify/orders_create.json",
        "refunds/create": "shopify/refunds_create.json",
        "inventory_levels/update": "shopify/inventory_levels_update.json",
    },
    "woocommerce": {
        "order.updated": "woocommerce/order_created.json",
        "product.updated": "woocommerce/product_updated.json",
    },
    "standard": {
        "order.created": "standard/order_created.json",
        "inventory.level": "standard/inventory_level.json",
    },
    "ebay": {
        "ORDER_CONFIRMATION": "ebay/order_confirmation.json",
        "ITEM_AVAILABILITY": "ebay/item_availability.json",
    },
    "amazon": {
        "ORDER_CHANGE": "amazon/order_change.json",
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "amazon/listings_item_mfn_quantity_change.json",
    },
}
CASES = [
    (kind, topic, fixture_json(path))
    for kind, topics in FIXTURES.items()
    for topic, path in topics.items()
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@FUZZ
@given(data=st.data(), case=st.sampled_from(CASES))
def test_mutated_real_payloads_are_parsed_or_rejected_cleanly(
    data: st.DataObject, case: tuple[str, str, Any]
) -> None:
    # Realistic payloads with a few fields swapped for junk or removed reach deep into
    # each parser, where random JSON rarely gets.
    kind, topic, original = case
    payload = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(payload)
        if not paths:
            break
        *parents, last = data.draw(st.sampled_from(paths))
        target = payload
        for step in parents:
            target = target[step]
        if data.draw(st.booleans()) and isinstance(target, dict):
            del target[last]
        else:
            target[last] = data.draw(json_values)
    try:
        events = parse_events(kind, topic, payload)
        if kind == "amazon":
            parse_amazon_notification(json.dumps(payload))
    except WebhookRejected:
        return
    _assert_storable(events)


@FUZZ
@given(offset=st.integers(min_value=-(10**10), max_value=10**10))
def test_standard_timestamps_are_accepted_exactly_inside_the_window(offset: int) -> None:
    timestamp = max(0, int(NOW.timestamp()) + offset)
    body = b'{"type": "order.created"}'
    headers = sign_standard(body, STANDARD_SECRET, msg_id="msg_t", timestamp=timestamp)
    try:
        verify_delivery(
            "standard",
            body=body,
            headers=headers,
            method="POST",
            query={},
            secrets=[STANDARD_SECRET],
            settings={},
            now=NOW,
        )
        accepted = True
    except SignatureInvalid:
        accepted = False

    assert accepted is (abs(timestamp - NOW.timestamp()) <= STANDARD_TOLERANCE.total_seconds())
