"""What the web request does with a verified delivery: store it, once, and wake the
intake worker. Everything else happens in the worker (`inbox`).

One statement: `INSERT ... SELECT ... WHERE <the channel is as the caller saw it>
ON CONFLICT (channel, dedupe key) DO NOTHING RETURNING id`, committed before the 200 (in
autocommit it is its own transaction; inside a caller's transaction the wake-up waits for
that commit). A redelivery inserts nothing and gets the first row's id; a channel that
changed since the caller read it (its `updated_at`) or was disabled inserts nothing and
raises `ChannelChanged`, so the caller verifies again against the channel as it is now.
"""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from ..models import Channel, InboundEvent, InboundStatus
from ..webhooks.verify import Delivery, MalformedDelivery
from .wake import processing_wanted


def storable_reason(text: str) -> str:
    """A reason may quote the channel's text: keep it storable and short."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:2000]


_TABLE = InboundEvent._meta.db_table
_CHANNELS = Channel._meta.db_table
_INSERT = f"""
    INSERT INTO {_TABLE} (channel_id, dedupe_key, topic, body, headers, received_at,
        source_timestamp, status, attempts, error, unmapped_skus)
    SELECT %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, '[]'
    WHERE EXISTS (
        SELECT 1 FROM {_CHANNELS} WHERE id = %s AND updated_at = %s AND enabled
    )
    ON CONFLICT (channel_id, dedupe_key) DO NOTHING
    RETURNING id
"""
_FIRST = f"SELECT id FROM {_TABLE} WHERE channel_id = %s AND dedupe_key = %s"


def check_storable(delivery: Delivery) -> None:
    """PostgreSQL text cannot hold NUL: a delivery smuggling one into a stored field is
    refused at the door (400) rather than failing later in the database. (The webhook
    parsers refuse control characters already; this is the last line.)"""
    texts = [delivery.topic, delivery.dedupe_key, *delivery.kept_headers.values()]
    if any("\x00" in text for text in texts):
        raise MalformedDelivery("NUL characters are not allowed in ids, topics or headers")


class ChannelChanged(Exception):
    """The channel is not as the caller saw it (another `updated_at`, disabled, gone)."""


def inbox_accept(
    *,
    channel_id: int,
    channel_updated_at,
    delivery: Delivery,
    body: bytes,
    unreadable: str = "",
) -> tuple[int, bool]:
    """Store a verified delivery for the channel, if the channel is still enabled and as
    of `channel_updated_at`. Returns (inbox row id, created); a redelivery creates
    nothing. Raises MalformedDelivery for what cannot be stored, ChannelChanged when the
    channel moved on (nothing stored).

    With `unreadable` (the reason, `unreadable.py`) the row is parked as "unreadable"
    for a person, and the intake worker is not woken: there is nothing for it to do."""
    check_storable(delivery)
    text = body.decode("utf-8", errors="replace")
    if "\x00" in text:
        raise MalformedDelivery("NUL characters are not allowed in a webhook body")
    params = [
        channel_id,
        delivery.dedupe_key,
        delivery.topic[:100],
        text,
        json.dumps(delivery.kept_headers),
        timezone.now(),
        delivery.source_timestamp,
        InboundStatus.UNREADABLE if unreadable else InboundStatus.RECEIVED,
        storable_reason(unreadable) if unreadable else "",
        channel_id,
        connection.ops.adapt_datetimefield_value(channel_updated_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_FIRST, [channel_id, delivery.dedupe_key])
            first = cursor.fetchone()
            if first is None:
                raise ChannelChanged(channel_id)
            return first[0], False
    if not unreadable:
        transaction.on_commit(processing_wanted)
    return row[0], True
