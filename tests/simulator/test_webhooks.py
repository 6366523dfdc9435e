"""Orders and events on a simulated store reach the hub signed in the channel's format."""

import base64
import hashlib
import hmac
import json
import threading
import time

import boto3
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from standardwebhooks import Webhook

from channels.webhooks.signing import make_standard_secret
from simulator.client import SimulatorError

LEVELS = {"TEE-S": 5, "MUG": 3}
TWO_LINES = [{"sku": "TEE-S", "quantity": 2}, {"sku": "MUG", "quantity": 1}]


def hmac_b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def ebay_public_key(store: dict, kid: str) -> ec.EllipticCurvePublicKey:
    """Fetch the key the way the hub does and load eBay's newline-less PEM."""
    answer = httpx.get(
        f"{store['base_url']}/commerce/notification/v1/public_key/{kid}",
        headers={"Authorization": f"Bearer {store['channel']['credentials']['access_token']}"},
    )
    answer.raise_for_status()
    key = answer.json()
    assert (key["algorithm"], key["digest"]) == ("ECDSA", "SHA1")
    der = (
        key["key"]
        .removeprefix("-----BEGIN PUBLIC KEY-----")
        .removesuffix("-----END PUBLIC KEY-----")
    )
    return load_der_public_key(base64.b64decode(der))


def test_shopify_orders_create_is_signed_with_the_client_secret(control, receiver):
    store = control.create_store(
        "shopify", "shop", levels=LEVELS, webhook_url=receiver.url, webhook_secret="shpss_x"
    )

    answer = control.place_order("shop", TWO_LINES)

    [delivery] = receiver.deliveries
    headers = delivery.headers
    assert headers["x-shopify-hmac-sha256"] == hmac_b64("shpss_x", delivery.body)
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == "shop.myshopify.com"
    assert headers["x-shopify-event-id"] == answer["deliveries"][0]["event_id"]
    assert headers["x-shopify-webhook-id"]
    assert headers["x-shopify-triggered-at"]
    order = json.loads(delivery.body)
    assert str(order["id"]) == answer["orders"][0]["order_id"]
    assert [(li["sku"], li["quantity"]) for li in order["line_items"]] == [("TEE-S", 2), ("MUG", 1)]
    assert answer["deliveries"][0]["status"] == 200
    assert control.levels("shop") == {"TEE-S": 3, "MUG": 2} == answer["levels"]
    assert store["webhook_secret"] == "shpss_x"


def test_woocommerce_order_created_is_signed_with_the_webhook_secret(control, receiver):
    control.create_store(
        "woocommerce", "woo", levels=LEVELS, webhook_url=receiver.url, webhook_secret="wsec"
    )

    control.place_order("woo", TWO_LINES)

    [delivery] = receiver.deliveries
    headers = delivery.headers
    assert headers["x-wc-webhook-signature"] == hmac_b64("wsec", delivery.body)
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert headers["x-wc-webhook-resource"] == "order"
    assert headers["x-wc-webhook-event"] == "created"
    assert headers["x-wc-webhook-source"].endswith("/woocommerce/woo/")
    assert b"\\/" in delivery.body  # wp_json_encode escapes slashes, and the HMAC covers it
    order = json.loads(delivery.body)
    assert order["status"] == "processing"
    assert [(li["sku"], li["quantity"]) for li in order["line_items"]] == [("TEE-S", 2), ("MUG", 1)]


@pytest.mark.parametrize("kind", ["standard", "sandbox"])
def test_storefront_orders_verify_with_the_reference_library(kind, control, receiver):
    secret = make_standard_secret()
    control.create_store(
        kind, "front", levels=LEVELS, webhook_url=receiver.url, webhook_secret=secret
    )

    answer = control.place_order("front", TWO_LINES)

    [delivery] = receiver.deliveries
    message = Webhook(secret).verify(delivery.body, delivery.headers)
    assert message["type"] == "order.created"
    assert message["data"]["order_id"] == answer["orders"][0]["order_id"]
    assert message["data"]["lines"] == [
        {"sku": "TEE-S", "quantity": 2, "restock": False},
        {"sku": "MUG", "quantity": 1, "restock": False},
    ]
    assert delivery.headers["webhook-id"] == answer["deliveries"][0]["event_id"]


def test_ebay_sends_one_order_confirmation_per_line_signed_with_its_public_key(control, receiver):
    store = control.create_store("ebay", "bay", levels=LEVELS, webhook_url=receiver.url)

    answer = control.place_order("bay", TWO_LINES)

    assert len(receiver.deliveries) == 2
    order_ids = []
    for delivery in receiver.deliveries:
        signature = json.loads(base64.b64decode(delivery.headers["x-ebay-signature"]))
        assert (signature["alg"], signature["digest"]) == ("ecdsa", "SHA1")
        key = ebay_public_key(store, signature["kid"])
        key.verify(base64.b64decode(signature["signature"]), delivery.body, ec.ECDSA(hashes.SHA1()))
        message = json.loads(delivery.body)
        assert message["metadata"]["topic"] == "ORDER_CONFIRMATION"
        # eBay's schema: the order id only; the seller reads the lines with getOrder.
        order_ids.append(message["notification"]["data"])
    assert order_ids == [{"orderId": answer["orders"][0]["order_id"]}] * 2


def sqs_client(store: dict):
    return boto3.client(
        "sqs",
        endpoint_url=store["channel"]["settings"]["sqs_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="simulator",
        aws_secret_access_key="simulator",
    )


def test_amazon_order_changes_are_long_polled_from_the_sqs_queue(control):
    store = control.create_store("amazon", "amz", levels=LEVELS)
    sqs = sqs_client(store)
    queue_url = store["channel"]["settings"]["sqs_queue_url"]
    received: list[dict] = []
    poll = threading.Thread(
        target=lambda: received.append(
            sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=10)
        )
    )
    poll.start()
    time.sleep(0.2)
    started = time.monotonic()

    answer = control.place_order("amz", TWO_LINES)
    poll.join(timeout=5)

    assert time.monotonic() - started < 3  # the long poll woke up on the new message
    [message] = received[0]["Messages"]
    notification = json.loads(message["Body"])
    assert notification["NotificationType"] == "ORDER_CHANGE"
    assert (
        notification["NotificationMetadata"]["NotificationId"]
        == answer["deliveries"][0]["event_id"]
    )
    change = notification["Payload"]["OrderChangeNotification"]
    assert change["AmazonOrderId"] == answer["orders"][0]["order_id"]
    assert change["Summary"]["OrderStatus"] == "Unshipped"
    assert [(i["SellerSKU"], i["Quantity"]) for i in change["Summary"]["OrderItems"]] == [
        ("TEE-S", 2),
        ("MUG", 1),
    ]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_an_undeleted_sqs_message_comes_back_after_its_visibility_timeout(control):
    store = control.create_store("amazon", "amz", levels=LEVELS)
    sqs = sqs_client(store)
    queue_url = store["channel"]["settings"]["sqs_queue_url"]
    control.place_order("amz", [{"sku": "MUG", "quantity": 1}])

    first = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=3)["Messages"][0]

    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def event_ids(kind: str, deliveries) -> list[str]:
    if kind == "shopify":
        return [d.headers["x-shopify-event-id"] for d in deliveries]
    if kind == "woocommerce":
        return ["{id}@{date_modified_gmt}".format(**json.loads(d.body)) for d in deliveries]
    if kind == "ebay":
        return [json.loads(d.body)["notification"]["notificationId"] for d in deliveries]
    return [d.headers["webhook-id"] for d in deliveries]


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "ebay", "standard"])
def test_duplicates_redeliver_the_same_event(kind, control, receiver):
    control.create_store(kind, "dup", levels=LEVELS, webhook_url=receiver.url)

    answer = control.place_order("dup", [{"sku": "MUG", "quantity": 1}], duplicates=2)

    assert [d["attempt"] for d in answer["deliveries"]] == [1, 2, 3]
    assert len(set(event_ids(kind, receiver.deliveries))) == 1
    assert len(receiver.deliveries) == 3
    assert control.levels("dup")["MUG"] == 2  # sold once, announced three times
    if kind == "ebay":
        counts = [
            json.loads(d.body)["notification"]["publishAttemptCount"] for d in receiver.deliveries
        ]
        assert counts == [1, 2, 3]


def test_shuffle_delivers_several_orders_out_of_order(control, receiver):
    control.create_store("standard", "front", levels={"MUG": 50}, webhook_url=receiver.url)
    orders = [{"order_id": f"SO-{n}", "lines": [{"sku": "MUG", "quantity": 1}]} for n in range(8)]

    control.place_orders("front", orders, shuffle=True, duplicates=1)

    delivered = [json.loads(d.body)["data"]["order_id"] for d in receiver.deliveries]
    assert sorted(delivered) == sorted(o["order_id"] for o in orders for _ in range(2))
    assert delivered != [o["order_id"] for o in orders for _ in range(2)]
    assert control.levels("front") == {"MUG": 42}


def test_a_cancellation_restocks_and_is_announced(control, receiver):
    secret = make_standard_secret()
    control.create_store(
        "standard", "front", levels=LEVELS, webhook_url=receiver.url, webhook_secret=secret
    )
    order_id = control.place_order("front", TWO_LINES)["orders"][0]["order_id"]

    control.send_event("front", type="order.cancelled", order_id=order_id)

    message = Webhook(secret).verify(receiver.deliveries[-1].body, receiver.deliveries[-1].headers)
    assert message["type"] == "order.cancelled"
    assert message["data"]["lines"][0] == {"sku": "TEE-S", "quantity": 2, "restock": True}
    assert control.levels("front") == LEVELS


def test_refunds_restock_only_when_asked(control, receiver):
    control.create_store("shopify", "shop", levels=LEVELS, webhook_url=receiver.url)
    order_id = control.place_order("shop", TWO_LINES)["orders"][0]["order_id"]

    control.send_event(
        "shop", type="order.refunded", order_id=order_id, lines=[{"sku": "MUG", "quantity": 1}]
    )
    assert control.levels("shop") == {"TEE-S": 3, "MUG": 2}
    control.send_event(
        "shop",
        type="order.refunded",
        order_id=order_id,
        lines=[{"sku": "TEE-S", "quantity": 2}],
        restock=True,
    )

    assert control.levels("shop") == {"TEE-S": 5, "MUG": 2}
    refund = json.loads(receiver.deliveries[-1].body)
    assert receiver.deliveries[-1].headers["x-shopify-topic"] == "refunds/create"
    assert str(refund["order_id"]) == order_id
    [item] = refund["refund_line_items"]
    assert (item["line_item"]["sku"], item["quantity"], item["restock_type"]) == (
        "TEE-S",
        2,
        "return",
    )


def test_an_inventory_level_event_sets_stock_and_names_the_inventory_item(control, receiver):
    store = control.create_store("shopify", "shop", levels=LEVELS, webhook_url=receiver.url)

    control.send_event("shop", type="inventory.level", sku="MUG", quantity=11)

    level = json.loads(receiver.deliveries[-1].body)
    assert receiver.deliveries[-1].headers["x-shopify-topic"] == "inventory_levels/update"
    assert str(level["inventory_item_id"]) == store["listings"]["MUG"]["external_id"]
    assert level["available"] == 11
    assert control.levels("shop")["MUG"] == 11


def test_woocommerce_updates_are_order_updated_with_a_newer_modified_date(control, receiver):
    control.create_store("woocommerce", "woo", levels=LEVELS, webhook_url=receiver.url)
    order_id = control.place_order("woo", TWO_LINES)["orders"][0]["order_id"]

    control.send_event("woo", type="order.cancelled", order_id=order_id)

    created, cancelled = (json.loads(d.body) for d in receiver.deliveries)
    assert receiver.deliveries[1].headers["x-wc-webhook-topic"] == "order.updated"
    assert cancelled["status"] == "cancelled"
    assert cancelled["date_modified_gmt"] > created["date_modified_gmt"]


def test_a_raw_event_is_signed_the_channels_way(control, receiver):
    control.create_store(
        "woocommerce", "woo", levels=LEVELS, webhook_url=receiver.url, webhook_secret="wsec"
    )

    control.send_event("woo", topic="order.deleted", payload={"id": 42})

    [delivery] = receiver.deliveries
    assert delivery.headers["x-wc-webhook-topic"] == "order.deleted"
    assert delivery.headers["x-wc-webhook-signature"] == hmac_b64("wsec", delivery.body)
    assert json.loads(delivery.body) == {"id": 42}


def test_events_a_channel_does_not_send_are_refused(control):
    control.create_store("ebay", "bay", levels=LEVELS)
    order_id = control.place_order("bay", TWO_LINES)["orders"][0]["order_id"]

    with pytest.raises(SimulatorError) as refused:
        control.send_event("bay", type="order.cancelled", order_id=order_id)

    assert refused.value.status == 400


def test_an_event_for_an_order_the_store_never_placed_needs_its_lines(control, receiver):
    control.create_store("standard", "front", levels=LEVELS, webhook_url=receiver.url)

    with pytest.raises(SimulatorError) as missing:
        control.send_event("front", type="order.cancelled", order_id="SO-404")
    control.send_event(
        "front",
        type="order.cancelled",
        order_id="SO-404",
        lines=[{"sku": "MUG", "quantity": 1}],
        restock=False,
    )

    assert missing.value.status == 404
    assert json.loads(receiver.deliveries[-1].body)["data"]["order_id"] == "SO-404"
    assert control.levels("front") == LEVELS


def test_the_hubs_answers_are_reported(control, receiver):
    receiver.status = 500
    control.create_store("shopify", "down", levels=LEVELS, webhook_url=receiver.url)
    control.create_store("shopify", "nowhere", levels=LEVELS)
    control.create_store("shopify", "refused", levels=LEVELS, webhook_url="http://127.0.0.1:9/hook")

    failed = control.place_order("down", TWO_LINES)["deliveries"][0]
    unset = control.place_order("nowhere", TWO_LINES)["deliveries"][0]
    refused = control.place_order("refused", TWO_LINES)["deliveries"][0]

    assert failed["status"] == 500
    assert unset["status"] is None and "no webhook_url" in unset["error"]
    assert refused["status"] is None and "ConnectError" in refused["error"]
    assert control.stats()["stores"]["down"]["webhooks_sent"] == 1


def test_selling_more_than_the_store_has_is_refused_unless_allowed(control):
    control.create_store("standard", "front", levels={"MUG": 1})

    with pytest.raises(SimulatorError) as refused:
        control.place_order("front", [{"sku": "MUG", "quantity": 2}])
    answer = control.place_order("front", [{"sku": "MUG", "quantity": 2}], allow_oversell=True)

    assert refused.value.status == 409
    assert refused.value.body["error"] == "insufficient_stock"
    assert answer["levels"] == {"MUG": -1}
