"""Amazon notifications long-polled from (the simulator's) SQS into the inbox."""

import httpx
import pytest

from channels.intake.amazon_poll import amazon_poll_channel
from channels.intake.inbox import inbox_process
from channels.models import InboundEvent
from channels.services import channel_create
from ledger.models import StockLevel
from ledger.services import sku_create, stock_receive

pytestmark = pytest.mark.django_db


def test_orders_arrive_once_and_messages_are_deleted_after_commit(simulator):
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    base = f"{simulator.url}/amazon/amz"
    httpx.post(
        f"{simulator.url}/_control/stores",
        json={
            "kind": "amazon",
            "store": "amz",
            "webhook_url": "",
            "webhook_secret": "",
            "levels": {"MUG": 10},
        },
    ).raise_for_status()
    queue = httpx.post(
        f"{base}/sqs",
        headers={
            "X-Amz-Target": "AmazonSQS.GetQueueUrl",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=b'{"QueueName": "amz"}',
    ).json()["QueueUrl"]
    channel = channel_create(
        slug="amz",
        kind="amazon",
        name="Amazon",
        settings={"base_url": base, "sqs_endpoint_url": f"{base}/sqs", "sqs_queue_url": queue},
    )
    sent = httpx.post(
        f"{simulator.url}/_control/stores/amz/orders",
        json={"lines": [{"sku": "MUG", "quantity": 2}], "duplicates": 1},
    )
    assert sent.status_code == 200, sent.text
    assert amazon_poll_channel(channel=channel, wait_seconds=1) == 1
    assert amazon_poll_channel(channel=channel, wait_seconds=0) == 0  # deleted: nothing left
    event = InboundEvent.objects.get()
    inbox_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "processed", event.error
    assert StockLevel.objects.get(sku=sku).committed == 2
