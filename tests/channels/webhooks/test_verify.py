"""verify_delivery for Shopify, WooCommerce and Amazon, and the dispatcher itself."""

import pytest

from channels.webhooks.errors import MalformedDelivery, SignatureInvalid, VerificationUnavailable
from channels.webhooks.parse import parse_amazon_notification
from channels.webhooks.signing import sign_shopify, sign_woocommerce

from .support import OLD_SECRET, SECRET, fixture_body, flip_byte, verify

ORDER = fixture_body("shopify/orders_create.json")
SHOPIFY_HEADERS = {
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "wool-and-co.myshopify.com",
    "X-Shopify-API-Version": "2025-10",
    "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    "X-Shopify-Triggered-At": "2025-11-03T19:22:10.877041743Z",
    "Content-Type": "application/json",
}


def shopify_headers(body: bytes, secret: str = SECRET, **overrides: str) -> dict[str, str]:
    return {**SHOPIFY_HEADERS, **sign_shopify(body, secret), **overrides}


# --- Shopify ---------------------------------------------------------------------


def test_shopify_good_signature_yields_the_delivery() -> None:
    delivery = verify("shopify", ORDER, shopify_headers(ORDER))

    assert delivery.topic == "orders/create"
    assert delivery.dedupe_key == "orders/create:98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert delivery.source_timestamp is not None
    assert delivery.source_timestamp.isoformat() == "2025-11-03T19:22:10.877041+00:00"
    assert delivery.payload["id"] == 5871234567890
    assert not delivery.ping
    assert delivery.challenge_response is None


def test_shopify_keeps_audit_headers_but_never_the_signature() -> None:
    delivery = verify("shopify", ORDER, shopify_headers(ORDER))

    assert delivery.kept_headers["x-shopify-shop-domain"] == "wool-and-co.myshopify.com"
    assert delivery.kept_headers["x-shopify-webhook-id"] == SHOPIFY_HEADERS["X-Shopify-Webhook-Id"]
    assert "x-shopify-hmac-sha256" not in delivery.kept_headers


def test_shopify_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in shopify_headers(ORDER).items()}

    assert verify("shopify", ORDER, headers).topic == "orders/create"


def test_shopify_tampered_byte_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify("shopify", flip_byte(ORDER), shopify_headers(ORDER))


def test_shopify_missing_signature_is_rejected() -> None:
    headers = shopify_headers(ORDER)
    del headers["X-Shopify-Hmac-Sha256"]

    with pytest.raises(SignatureInvalid, match="X-Shopify-Hmac-Sha256"):
        verify("shopify", ORDER, headers)


def test_shopify_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid):
        verify("shopify", ORDER, shopify_headers(ORDER, secret="not-the-secret"))


def test_shopify_previous_secret_still_verifies_during_rotation() -> None:
    delivery = verify(
        "shopify", ORDER, shopify_headers(ORDER, OLD_SECRET), secrets=[SECRET, OLD_SECRET]
    )

    assert delivery.topic == "orders/create"


def test_shopify_event_id_fallback_is_the_webhook_id() -> None:
    headers = shopify_headers(ORDER)
    del headers["X-Shopify-Event-Id"]

    assert verify("shopify", ORDER, headers).dedupe_key == (
        "webhook-id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    )


def test_shopify_without_any_delivery_id_is_malformed() -> None:
    headers = shopify_headers(ORDER)
    del headers["X-Shopify-Event-Id"], headers["X-Shopify-Webhook-Id"]

    with pytest.raises(MalformedDelivery, match="X-Shopify-Event-Id"):
        verify("shopify", ORDER, headers)


def test_shopify_signed_body_that_is_not_json_is_malformed() -> None:
    body = b"<html>not json</html>"

    with pytest.raises(MalformedDelivery, match="not valid JSON"):
        verify("shopify", body, shopify_headers(body))


def test_shopify_missing_topic_is_malformed() -> None:
    headers = shopify_headers(ORDER)
    del headers["X-Shopify-Topic"]

    with pytest.raises(MalformedDelivery, match="X-Shopify-Topic"):
        verify("shopify", ORDER, headers)


def test_shopify_unreadable_triggered_at_does_not_sink_a_verified_delivery() -> None:
    delivery = verify(
        "shopify", ORDER, shopify_headers(ORDER, **{"X-Shopify-Triggered-At": "soon"})
    )

    assert delivery.source_timestamp is None


def test_get_request_is_malformed() -> None:
    with pytest.raises(MalformedDelivery, match="POST"):
        verify("shopify", b"", {}, method="GET")


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_usable_secret_is_our_problem_not_the_senders(secrets: list[str]) -> None:
    # An empty HMAC key is one anyone can sign with: it must never verify.
    with pytest.raises(VerificationUnavailable, match="no webhook secret") as caught:
        verify("shopify", ORDER, shopify_headers(ORDER, secret=""), secrets=secrets)

    assert caught.value.status_code == 503


# --- WooCommerce -----------------------------------------------------------------

WOO_ORDER = fixture_body("woocommerce/order_created.json")
WOO_HEADERS = {
    "X-WC-Webhook-Source": "https://shop.example.com/",
    "X-WC-Webhook-Topic": "order.created",
    "X-WC-Webhook-Resource": "order",
    "X-WC-Webhook-Event": "created",
    "X-WC-Webhook-ID": "14",
    "X-WC-Webhook-Delivery-ID": "8f1c0e7d2a9b4c3d5e6f708192a3b4c5",
    "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
}


def woo_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {**WOO_HEADERS, **sign_woocommerce(body, secret)}


def test_woocommerce_good_signature_yields_the_delivery() -> None:
    delivery = verify("woocommerce", WOO_ORDER, woo_headers(WOO_ORDER))

    assert delivery.topic == "order.created"
    # Webhook, resource and modification time: Delivery-ID changes on every send.
    assert delivery.dedupe_key == "14:727:2025-11-03T15:28:08"
    assert delivery.source_timestamp is not None
    assert delivery.source_timestamp.isoformat() == "2025-11-03T15:28:08+00:00"
    assert (
        delivery.kept_headers["x-wc-webhook-delivery-id"] == WOO_HEADERS["X-WC-Webhook-Delivery-ID"]
    )
    assert delivery.kept_headers["user-agent"].startswith("WooCommerce/")
    assert "x-wc-webhook-signature" not in delivery.kept_headers


def test_woocommerce_tampered_byte_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify("woocommerce", flip_byte(WOO_ORDER, 40), woo_headers(WOO_ORDER))


def test_woocommerce_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid):
        verify("woocommerce", WOO_ORDER, woo_headers(WOO_ORDER, secret="guess"))


def test_woocommerce_previous_secret_still_verifies_during_rotation() -> None:
    headers = woo_headers(WOO_ORDER, OLD_SECRET)

    assert verify("woocommerce", WOO_ORDER, headers, secrets=[SECRET, OLD_SECRET]).topic == (
        "order.created"
    )


def test_woocommerce_missing_signature_on_an_event_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="X-WC-Webhook-Signature"):
        verify("woocommerce", WOO_ORDER, WOO_HEADERS)


def test_woocommerce_creation_ping_is_acknowledged_without_a_signature() -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce"}

    delivery = verify("woocommerce", b"webhook_id=14", headers, secrets=[])

    assert delivery.ping is True
    assert delivery.payload == {"webhook_id": "14"}
    assert delivery.topic == "ping"


@pytest.mark.parametrize("body", [b"webhook_id=14&status=active", b"webhook_id=", b"{}"])
def test_woocommerce_anything_else_unsigned_is_rejected(body: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        verify("woocommerce", body, {})


def test_woocommerce_missing_webhook_id_header_is_malformed() -> None:
    headers = woo_headers(WOO_ORDER)
    del headers["X-WC-Webhook-ID"]

    with pytest.raises(MalformedDelivery, match="X-WC-Webhook-ID"):
        verify("woocommerce", WOO_ORDER, headers)


def test_woocommerce_deleted_resource_dedupes_on_its_id() -> None:
    body = b'{"id":727}'
    headers = {**woo_headers(body), "X-WC-Webhook-Topic": "order.deleted"}

    delivery = verify("woocommerce", body, headers)

    assert delivery.dedupe_key == "14:727:"
    assert delivery.source_timestamp is None


# --- Amazon and the dispatcher ---------------------------------------------------


def test_amazon_sqs_message_becomes_a_delivery() -> None:
    delivery = parse_amazon_notification(fixture_body("amazon/order_change.json").decode())

    assert delivery.dedupe_key == "4b1d0f6e-7c2a-4e39-9f85-2a6d3c1b0e97"
    assert delivery.topic == "ORDER_CHANGE"
    assert delivery.source_timestamp is not None
    assert delivery.source_timestamp.isoformat() == "2025-11-03T15:29:53.109000+00:00"


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ("not json", "not valid JSON"),
        ('{"NotificationType": "ORDER_CHANGE"}', "NotificationMetadata"),
        (
            '{"NotificationType": "", "NotificationMetadata": {"NotificationId": "x"}}',
            "NotificationType",
        ),
    ],
)
def test_amazon_malformed_messages_are_rejected(message: str, complaint: str) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_amazon_notification(message)


def test_amazon_over_http_cannot_be_authenticated() -> None:
    body = fixture_body("amazon/order_change.json")

    with pytest.raises(SignatureInvalid, match="SQS"):
        verify("amazon", body, {"Content-Type": "application/json"})


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no webhook verifier"):
        verify("myspace", b"{}", {})


def test_status_codes_for_the_view() -> None:
    assert SignatureInvalid("x").status_code == 401
    assert MalformedDelivery("x").status_code == 400
    assert VerificationUnavailable("x").status_code == 503
