"""Amazon has no HTTP webhook: notifications land in the seller's SQS queue and a beat
task long-polls it into the same inbox as every other channel.

A message is deleted from SQS only after its inbox row has committed, so a crash
between the two re-delivers it, and the inbox's UNIQUE dedupe key
(NotificationMetadata.NotificationId) makes the re-delivery a no-op. A message that
cannot be parsed is left in the queue for SQS's own redrive policy (its dead-letter
queue), never deleted silently. A message that is JSON but cannot be read (an unknown
notification type, missing fields) is stored as "unreadable" for a person and deleted,
as the web intake does with such deliveries.
"""

from __future__ import annotations

import logging

import boto3
from botocore.config import Config

from foundation.egress import EgressRefused, check_outbound_url
from foundation.metrics import UNREADABLE, WEBHOOKS

from ..models import Channel, ChannelKind
from ..webhooks.parse import parse_amazon_notification
from ..webhooks.verify import MalformedDelivery, WebhookRejected
from .accept import inbox_accept
from .unreadable import Unreadable, delivery_parked, delivery_read

logger = logging.getLogger(__name__)


def _sqs_client(channel: Channel):
    settings, credentials = channel.settings or {}, channel.credentials or {}
    return boto3.client(
        "sqs",
        endpoint_url=settings.get("sqs_endpoint_url") or None,
        region_name=settings.get("sqs_region", "us-east-1"),
        aws_access_key_id=credentials.get("aws_access_key_id", "hub"),
        aws_secret_access_key=credentials.get("aws_secret_access_key", "hub"),
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )


def amazon_poll_channel(*, channel: Channel, wait_seconds: int = 10, rounds: int = 5) -> int:
    """Receive up to `rounds` batches of notifications; returns how many were stored."""
    queue_url = (channel.settings or {}).get("sqs_queue_url")
    if not queue_url:
        logger.warning("amazon channel %s has no settings.sqs_queue_url; not polling", channel.slug)
        return 0
    # The AWS keys sign every call to the endpoint: it is checked like any channel
    # address (botocore never follows a redirect).
    endpoint = (channel.settings or {}).get("sqs_endpoint_url")
    try:
        for url in (endpoint, queue_url) if endpoint else (queue_url,):
            check_outbound_url(str(url))
    except EgressRefused as exc:
        logger.error("amazon channel %s: not polling SQS: %s", channel.slug, exc)
        return 0
    client = _sqs_client(channel)
    stored = 0
    for _ in range(rounds):
        answer = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            body = message["Body"]
            unreadable = ""
            try:
                try:
                    delivery = parse_amazon_notification(body)
                except MalformedDelivery as exc:
                    delivery = delivery_parked(refusal=exc, body=body.encode(), method="POST")
                    unreadable = str(exc)
                else:
                    try:
                        delivery_read(channel.kind, delivery.topic, delivery.payload)
                    except Unreadable as exc:
                        unreadable = exc.reason
                _, created = inbox_accept(
                    channel_id=channel.pk,
                    channel_updated_at=channel.updated_at,
                    delivery=delivery,
                    body=body.encode(),
                    unreadable=unreadable,
                )
            except WebhookRejected as exc:
                WEBHOOKS.labels(channel=channel.slug, outcome="400").inc()
                logger.error("amazon %s: unusable notification left in SQS: %s", channel.slug, exc)
                continue
            outcome = "accepted" if created else "duplicate"
            if created and unreadable:
                outcome = "unreadable"
                UNREADABLE.labels(kind=channel.kind).inc()
            WEBHOOKS.labels(channel=channel.slug, outcome=outcome).inc()
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            stored += int(created)
        wait_seconds = 0  # drain what is there, but long-poll only once per run
    return stored


def amazon_poll_all() -> int:
    total = 0
    for channel in Channel.objects.filter(kind=ChannelKind.AMAZON, enabled=True):
        try:
            total += amazon_poll_channel(channel=channel, wait_seconds=1)
        except Exception:  # noqa: BLE001 - one channel's failure must not stop the others
            logger.exception("polling amazon channel %s failed", channel.slug)
    return total
