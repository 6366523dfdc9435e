"""Verified deliveries the hub cannot read: stored, answered 200, parked as "unreadable"
for a person, never applied. Each kind's real wire format, sent by the simulator over HTTP
to the hub's live server (Amazon through the simulator's SQS queue)."""

import copy
import json
import time
import uuid

import httpx
import pytest

from channels.intake.amazon_poll import amazon_poll_channel
from channels.intake.inbox import inbox_process, inbox_process_waiting
from channels.intake.unreadable import (
    UnreadableNotWaiting,
    delivery_read,
    unreadable_handle,
    unreadable_retry,
)
from channels.models import ChannelOrderLine, InboundEvent, InboundStatus
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret, sign_shopify, sign_standard
from foundation.metrics import UNREADABLE
from ledger.models import Movement, StockLevel
from ledger.services import sku_create, stock_receive

from .webhooks.support import fixture_json

NOW = "2026-11-23T10:00:00Z"


def shopify_order():
    order = fixture_json("shopify/orders_create.json")
    for item in order["line_items"]:
        item["sku"] = "MUG" if item.get("sku") else item.get("sku")
    return order


def woo_order():
    order = fixture_json("woocommerce/order_created.json")
    for item in order["line_items"]:
        item["sku"] = "MUG"
    return order


def ebay_envelope(topic, data):
    return {
        "metadata": {"topic": topic, "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": str(uuid.uuid4()),
            "eventDate": NOW,
            "publishDate": NOW,
            "publishAttemptCount": 1,
            "data": data,
        },
    }


def _without(document, *path):
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return document


# (kind, case, topic, payload, words the reason must hold)
CASES = [
    (
        "shopify",
        "missing",
        "orders/create",
        _without(shopify_order(), "line_items", 0, "quantity"),
        "line_items[0].quantity",
    ),
    ("shopify", "unknown", "carts/create", {"id": 77, "token": "abc"}, "unknown topic"),
    (
        "woocommerce",
        "missing",
        "order.created",
        _without(woo_order(), "line_items", 0, "quantity"),
        "quantity",
    ),
    ("woocommerce", "no-id", "order.created", _without(woo_order(), "id"), "id"),
    ("woocommerce", "unknown", "action.woocommerce_custom", {"id": 9}, "unknown topic"),
    (
        "sandbox",
        "missing",
        "order.created",
        {"type": "order.created", "timestamp": NOW, "data": {"order_id": "W-1"}},
        "data.lines",
    ),
    (
        "sandbox",
        "unknown",
        "order.exploded",
        {"type": "order.exploded", "timestamp": NOW, "data": {}},
        "unknown topic",
    ),
    (
        "standard",
        "missing",
        "order.created",
        {"type": "order.created", "timestamp": NOW, "data": {"lines": []}},
        "data.order_id",
    ),
    (
        "standard",
        "unknown",
        "customer.created",
        {"type": "customer.created", "timestamp": NOW, "data": {}},
        "unknown topic",
    ),
    (
        "ebay",
        "missing",
        "ORDER_CONFIRMATION",
        ebay_envelope("ORDER_CONFIRMATION", {"lineItems": [{"sku": "MUG", "quantity": 1}]}),
        "orderId",
    ),
    (
        "ebay",
        "no-id",
        "ORDER_CONFIRMATION",
        _without(ebay_envelope("ORDER_CONFIRMATION", {}), "notification", "notificationId"),
        "notificationId",
    ),
    (
        "ebay",
        "unknown",
        "SELLER_FEEDBACK_LEFT",
        ebay_envelope("SELLER_FEEDBACK_LEFT", {"orderId": "1"}),
        "unknown topic",
    ),
]


def nothing_moved(sku):
    level = StockLevel.objects.get(sku=sku)
    assert (level.on_hand, level.committed) == (10, 0)
    assert not Movement.objects.exclude(kind="receipt").exists()
    assert not ChannelOrderLine.objects.exists()


def store_and_channel(sim, live_server, kind):
    slug = f"{kind}-store"
    store = sim.create_store(
        kind, slug, levels={"MUG": 10}, webhook_url=f"{live_server.url}/webhooks/{slug}/"
    )
    config = store["channel"]
    channel_create(
        slug=slug,
        kind=kind,
        name=slug,
        webhook_secret=store["webhook_secret"],
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"]},
    )
    return slug


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kind", "case", "topic", "payload", "words"),
    CASES,
    ids=[f"{kind}-{case}" for kind, case, *_ in CASES],
)
def test_a_verified_delivery_the_hub_cannot_read_is_kept_and_parked(
    sim, live_server, settings, kind, case, topic, payload, words
):
    settings.SECURE_SSL_REDIRECT = False
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    slug = store_and_channel(sim, live_server, kind)
    counted = UNREADABLE.labels(kind=kind)._value.get()

    # Sent twice: the channel's own redelivery of the same delivery.
    sent = sim.send_event(slug, topic=topic, payload=payload, duplicates=1)

    assert [d["status"] for d in sent["deliveries"]] == [200, 200], sent
    event = InboundEvent.objects.get(channel__slug=slug)
    assert event.status == InboundStatus.UNREADABLE
    assert words in event.error
    assert json.loads(event.body) == payload
    assert UNREADABLE.labels(kind=kind)._value.get() == counted + 1
    inbox_process_waiting()  # the worker has nothing to do with it
    event.refresh_from_db()
    assert event.status == InboundStatus.UNREADABLE
    nothing_moved(sku)


def amazon_channel(simulator):
    base = f"{simulator.url}/amazon/amz"
    httpx.post(
        f"{simulator.url}/_control/stores",
        json={"kind": "amazon", "store": "amz", "webhook_url": "", "levels": {"MUG": 10}},
    ).raise_for_status()
    queue = httpx.post(
        f"{base}/sqs",
        headers={
            "X-Amz-Target": "AmazonSQS.GetQueueUrl",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=b'{"QueueName": "amz"}',
    ).json()["QueueUrl"]
    return channel_create(
        slug="amz",
        kind="amazon",
        name="Amazon",
        settings={"base_url": base, "sqs_endpoint_url": f"{base}/sqs", "sqs_queue_url": queue},
    )


def amazon_notification(kind, payload):
    notification = fixture_json("amazon/order_change.json")
    notification["NotificationType"] = kind
    notification["NotificationMetadata"]["NotificationId"] = str(uuid.uuid4())
    notification["Payload"] = payload
    return notification


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("notification", "words"),
    [
        (amazon_notification("ORDER_CHANGE", {}), "Payload.OrderChangeNotification"),
        (amazon_notification("B2B_ANY_OFFER_CHANGED", {"x": 1}), "unknown topic"),
        (_without(amazon_notification("ORDER_CHANGE", {}), "NotificationMetadata"), "Metadata"),
    ],
    ids=["missing", "unknown", "no-id"],
)
def test_amazon_notifications_it_cannot_read_are_parked_and_leave_the_queue(
    simulator, notification, words
):
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    channel = amazon_channel(simulator)
    sent = httpx.post(
        f"{simulator.url}/_control/stores/amz/events",
        json={"topic": notification["NotificationType"], "payload": notification, "duplicates": 1},
    )
    assert sent.status_code == 200, sent.text

    assert amazon_poll_channel(channel=channel, wait_seconds=1) == 1
    assert amazon_poll_channel(channel=channel, wait_seconds=0) == 0  # deleted from SQS

    event = InboundEvent.objects.get()
    assert event.status == InboundStatus.UNREADABLE
    assert words in event.error
    nothing_moved(sku)


# --- through the Django test client: what stays a refusal ------------------------------

SECRET = make_standard_secret()


def post_standard(client, body: bytes, msg_id="m1"):
    headers = sign_standard(body, SECRET, msg_id=msg_id, timestamp=int(time.time()))
    return client.post("/webhooks/web/", body, content_type="application/json", headers=headers)


@pytest.fixture
def web(db):
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    channel_create(slug="web", kind="sandbox", name="Web", webhook_secret=SECRET)
    return sku


@pytest.mark.parametrize(
    "body",
    [b'{"type": "order.created", ', b"not json at all", b"\xff\xfe{}"],
    ids=["cut", "text", "utf-16"],
)
def test_a_body_that_is_not_json_is_still_refused_and_stores_nothing(client, web, body):
    response = post_standard(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert not InboundEvent.objects.exists()


def test_a_nul_character_is_still_refused_even_in_an_unreadable_delivery(client, web):
    body = json.dumps(
        {"type": "order.created", "timestamp": NOW, "data": {"order_id": "A\u0000"}}
    ).encode()

    response = post_standard(client, body)

    assert response.status_code == 400
    assert "NUL character" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_a_topic_mismatch_is_still_refused(client, db):
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret="s3cret")
    body = json.dumps(shopify_order()).encode()
    headers = {
        **sign_shopify(body, "s3cret"),
        "X-Shopify-Topic": "orders/cancelled",
        "X-Shopify-Event-Id": "e-1",
    }
    response = client.post(
        "/webhooks/shop/", body, content_type="application/json", headers=headers
    )

    assert response.status_code == 400
    assert response.json()["error"] == "topic_mismatch"
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "sandbox"])
def test_a_badly_signed_unreadable_delivery_is_refused_before_anything_is_read(client, db, kind):
    """The verifiers check the signature before any field: a delivery that is not the
    channel's never reaches the parking lot (the view parks what a verifier refused as
    malformed only because the signature was checked first)."""
    channel_create(slug="c", kind=kind, name="C", webhook_secret=make_standard_secret())
    headers = {
        "shopify": {"X-Shopify-Hmac-Sha256": "AAAA", "X-Shopify-Topic": "orders/create"},
        "woocommerce": {"X-WC-Webhook-Signature": "AAAA", "X-WC-Webhook-Topic": "order.created"},
        "sandbox": {
            "webhook-id": "m1",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        },
    }[kind]
    response = client.post("/webhooks/c/", b"{}", content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def unreadable_order(client, msg_id="m1"):
    body = json.dumps({"type": "order.created", "timestamp": NOW, "data": {"order_id": "W-1"}})
    response = post_standard(client, body.encode(), msg_id=msg_id)
    assert response.json()["status"] == "unreadable", response.json()
    return InboundEvent.objects.get(pk=response.json()["event_id"])


def test_marked_handled_it_stays_unapplied_and_leaves_the_queue(client, web, django_user_model):
    event = unreadable_order(client)
    person = django_user_model.objects.create_user("ann")

    unreadable_handle(event_id=event.pk, actor=person)

    event.refresh_from_db()
    assert event.status == InboundStatus.HANDLED
    assert "data.lines" in event.error and "Marked handled by ann" in event.error
    with pytest.raises(UnreadableNotWaiting):
        unreadable_handle(event_id=event.pk, actor=person)
    nothing_moved(web)


def test_run_again_while_still_unreadable_it_stays_parked(client, web):
    event = unreadable_order(client)

    unreadable_retry(event_id=event.pk, actor=None)

    event.refresh_from_db()
    assert event.status == InboundStatus.UNREADABLE
    assert "data.lines" in event.error


def test_run_again_once_readable_it_is_applied(client, web, monkeypatch):
    from channels.intake import unreadable

    event = unreadable_order(client)
    # Stands in for a fix of the hub: the stored delivery now reads (as it would once a
    # parser learns the shape the channel sent).
    body = json.loads(event.body)
    body["data"]["lines"] = [{"sku": "MUG", "quantity": 2}]
    InboundEvent.objects.filter(pk=event.pk).update(body=json.dumps(body))
    monkeypatch.setattr(unreadable, "processing_wanted", lambda: None)

    unreadable_retry(event_id=event.pk, actor=None)
    event.refresh_from_db()
    assert event.status == InboundStatus.RECEIVED
    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == InboundStatus.PROCESSED, event.error
    assert StockLevel.objects.get(sku=web).committed == 2


def test_the_worker_parks_a_stored_delivery_it_cannot_read(client, web):
    """A row stored as readable (before a parser change, or before unknown topics were
    parked) that the worker cannot read is parked, not retried until dead."""
    response = post_standard(
        client,
        json.dumps(
            {
                "type": "order.created",
                "timestamp": NOW,
                "data": {"order_id": "W-1", "lines": [{"sku": "MUG", "quantity": 1}]},
            }
        ).encode(),
    )
    event = InboundEvent.objects.get(pk=response.json()["event_id"])
    InboundEvent.objects.filter(pk=event.pk).update(topic="order.exploded")

    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (InboundStatus.UNREADABLE, 1)
    assert "unknown topic 'order.exploded'" in event.error
    nothing_moved(web)


def test_delivery_read_knows_every_kind():
    from channels.models import ChannelKind

    for kind in ChannelKind.values:
        with pytest.raises(Exception, match="unknown topic"):
            delivery_read(kind, "no.such/topic", {})


def test_in_a_batch_the_unreadable_one_is_parked_and_the_others_applied(client, web):
    def order(msg_id, order_id):
        payload = {
            "type": "order.created",
            "timestamp": NOW,
            "data": {"order_id": order_id, "lines": [{"sku": "MUG", "quantity": 1}]},
        }
        return post_standard(client, json.dumps(payload).encode(), msg_id=msg_id).json()

    first, second, third = order("m1", "W-1"), order("m2", "W-2"), order("m3", "W-3")
    InboundEvent.objects.filter(pk=second["event_id"]).update(topic="order.exploded")

    inbox_process_waiting(batch_size=10)

    statuses = dict(InboundEvent.objects.values_list("id", "status"))
    assert statuses == {
        first["event_id"]: InboundStatus.PROCESSED,
        second["event_id"]: InboundStatus.UNREADABLE,
        third["event_id"]: InboundStatus.PROCESSED,
    }
    assert StockLevel.objects.get(sku=web).committed == 2
