"""Orders whose notification names only the order: read their lines from the channel.

eBay's ORDER_CONFIRMATION carries the order id and no lines (see the eBay notes in
``channels.webhooks.parse``); the intake worker, not the web request, reads the order
through the channel's adapter (``fetch_order``) before applying it. What a failure means
for the delivery:

* the channel cannot be reached just now, or throttles, or the merchant must act first
  (a revoked token): the error is raised, so the delivery is retried with backoff;
* the channel refuses for good (the order is not found, 4xx): ``OrderNotFetched``, a
  WebhookRejected, so the delivery is parked with the reason on its row.

An order fetched once serves every notification of the same batch naming it (eBay sends
one per line item).
"""

from __future__ import annotations

import dataclasses

from ..adapters.base import ChannelNeedsAction, ChannelRejected, adapter_for
from ..models import Channel
from ..tokens import channel_credential_store
from ..webhooks.errors import WebhookRejected
from ..webhooks.events import CanonicalEvent, OrderEvent, OrderLine


class OrderNotFetched(WebhookRejected):
    """The channel will never give this order's lines."""


def orders_fetched(
    channel: Channel, events: list[CanonicalEvent], fetched: dict[tuple[int, str], tuple]
) -> list[CanonicalEvent]:
    """``events`` with each order that names no lines given its lines from the channel.
    ``fetched`` keeps the lines read in this batch, by (channel id, order id)."""
    if not any(isinstance(e, OrderEvent) and e.lines_to_fetch for e in events):
        return events
    result: list[CanonicalEvent] = []
    for event in events:
        if isinstance(event, OrderEvent) and event.lines_to_fetch:
            key = (channel.pk, event.order_id)
            if key not in fetched:
                fetched[key] = tuple(_fetch(channel, event.order_id))
            event = dataclasses.replace(event, lines=fetched[key], lines_to_fetch=False)
            if not event.lines:
                continue  # no line with a SKU: nothing the hub holds
        result.append(event)
    return result


def _fetch(channel: Channel, order_id: str) -> list[OrderLine]:
    settings = channel.settings or {}
    with adapter_for(
        channel.kind,
        base_url=settings.get("base_url", ""),
        credentials=channel.credentials or {},
        settings=settings,
        timeout=min(float(settings.get("timeout_seconds", 10)), 10.0),
        credential_store=channel_credential_store(channel),
    ) as adapter:
        fetch = getattr(adapter, "fetch_order", None)
        if fetch is None:
            raise OrderNotFetched(
                f"order {order_id}: a {channel.kind} channel cannot be asked for its lines"
            )
        try:
            return fetch(order_id)
        except ChannelNeedsAction:
            raise  # works again once the merchant acts: keep retrying
        except ChannelRejected as exc:
            raise OrderNotFetched(f"order {order_id}: could not read its lines: {exc}") from exc
