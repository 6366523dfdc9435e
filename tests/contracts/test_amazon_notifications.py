"""Amazon's notifications as Amazon documents them (see amazon/SOURCES.md), through the
hub's parser, and the SQS envelope through the real poller (boto3 over HTTP to a local
server answering with the documented ReceiveMessage response)."""

import hashlib
import json
from datetime import UTC, datetime

import pytest

from channels.intake.amazon_poll import amazon_poll_channel
from channels.models import InboundEvent, InboundStatus
from channels.services import channel_create
from channels.webhooks.events import LevelReported, OrderEvent, OrderLine
from channels.webhooks.parse import parse_amazon_notification, parse_events

from .amazon_server import Answer, fixture_server
from .support import document, document_bytes

SQS_JSON = "application/x-amz-json-1.0"


def test_an_mfn_quantity_change_reports_the_level():
    delivery = parse_amazon_notification(
        document_bytes("amazon", "notification_listings_item_mfn_quantity_change.json")
    )

    assert delivery.topic == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
    assert delivery.dedupe_key == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
    assert parse_events("amazon", delivery.topic, delivery.payload) == [
        LevelReported(
            sku="MUG-BLUE",
            external_id="MUG-BLUE",
            quantity=0,
            occurred_at=datetime(2025, 11, 3, 15, 31, 30, 194000, tzinfo=UTC),
        )
    ]


def test_an_order_change_places_its_lines():
    delivery = parse_amazon_notification(document_bytes("amazon", "notification_order_change.json"))

    [event] = parse_events("amazon", delivery.topic, delivery.payload)

    assert delivery.dedupe_key == "4b1d0f6e-7c2a-4e39-9f85-2a6d3c1b0e97"
    assert event == OrderEvent(
        kind="placed",
        order_id="114-2345678-9012345",
        lines=(
            OrderLine(sku="MUG-BLUE", quantity=2, line_ref="51234567890123"),
            OrderLine(sku="BEANIE-CHAR", quantity=1, line_ref="51234567890124"),
        ),
        occurred_at=datetime(2025, 11, 3, 15, 29, 50, 284000, tzinfo=UTC),
    )


def test_the_sqs_body_is_the_notification():
    [message] = document("amazon", "sqs_receive_message.json")["Messages"]

    delivery = parse_amazon_notification(message["Body"])

    assert delivery.topic == "ORDER_CHANGE"
    assert delivery.payload == document("amazon", "notification_order_change.json")


def sqs_channel(url: str):
    """An Amazon channel whose notifications queue is the fixture server at `url`."""
    return channel_create(
        slug="amz-sqs",
        kind="amazon",
        name="Amazon",
        settings={
            "base_url": url,
            "sqs_endpoint_url": url,
            "sqs_queue_url": f"{url}/437568002678/hub-notifications",
        },
    )


@pytest.mark.django_db
def test_the_poller_stores_the_notification_and_deletes_the_message():
    received = document("amazon", "sqs_receive_message.json")
    [message] = received["Messages"]
    with fixture_server() as sqs:
        sqs.answer(
            "POST",
            "/",
            Answer(200, json.dumps(received).encode(), SQS_JSON),
            Answer(200, b"{}", SQS_JSON),
        )
        channel = sqs_channel(sqs.url)

        stored = amazon_poll_channel(channel=channel, wait_seconds=0, rounds=1)

        targets = [seen.headers.get("x-amz-target") for seen in sqs.seen]
        deleted = sqs.seen[-1].json()

    assert stored == 1
    event = InboundEvent.objects.get(channel=channel)
    assert (event.topic, event.dedupe_key) == (
        "ORDER_CHANGE",
        "4b1d0f6e-7c2a-4e39-9f85-2a6d3c1b0e97",
    )
    assert targets == ["AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessage"]
    assert deleted["ReceiptHandle"] == message["ReceiptHandle"]


@pytest.mark.django_db
def test_a_message_that_is_no_notification_is_parked_as_unreadable_and_deleted():
    # The queue is the merchant's own and only Amazon sends to it: a message the hub
    # cannot read is kept for a person (channels/intake/unreadable.py), not left to be
    # received again forever.
    received = document("amazon", "sqs_receive_message.json")
    body = '{"NotificationType": "ORDER_CHANGE"}'  # no NotificationMetadata
    received["Messages"][0] |= {"Body": body, "MD5OfBody": hashlib.md5(body.encode()).hexdigest()}
    with fixture_server() as sqs:
        sqs.answer("POST", "/", Answer(200, json.dumps(received).encode(), SQS_JSON))
        channel = sqs_channel(sqs.url)

        stored = amazon_poll_channel(channel=channel, wait_seconds=0, rounds=1)

        targets = [seen.headers.get("x-amz-target") for seen in sqs.seen]

    assert stored == 1
    event = InboundEvent.objects.get(channel=channel)
    assert event.status == InboundStatus.UNREADABLE
    assert "NotificationMetadata" in event.error
    assert targets == ["AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessage"]
