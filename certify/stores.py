"""The merchant's own stores (``--channels``), seen only through their channels' adapters:
certify has no control API there. Whether a store carries the test SKUs, what it shows
for them (read back under the hub's own token bucket for the channel, so certify's reads
are never a reason for the channel to throttle), what the merchant must create, and how
often the channel throttled the hub (the only rate-limit count a real store lets the hub
see: its own counters are not readable)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from django.db.models import Q

from channels.adapters.base import (
    ChannelAdapter,
    ChannelNotSent,
    ChannelThrottled,
    ListingRef,
    adapter_class,
    adapter_for,
    chunked,
)
from channels.models import Channel, ChannelAudit, ChannelAuditKind, Listing
from channels.propagation.drain import token_taker

T = TypeVar("T")

# What a store must hold for certify to write to it, in the channel's own words.
TO_CREATE = {
    "shopify": "a product variant with that SKU, inventory tracked at the location the "
    "channel publishes to",
    "woocommerce": "a product (or variation) with that SKU and stock management on",
    "ebay": "an inventory item with that SKU and a published offer",
    "amazon": "a listing with that seller SKU",
    "standard": "a product with that SKU",
    "sandbox": "a product with that SKU",
}
# The channel throttled the hub: a 429, or the channel's own throttle answer (Shopify's
# THROTTLED), as the drainer records it (channels.propagation.drain: "throttled: ..."
# for a whole call, the adapter's "answered 429" for the items a partial call left).
THROTTLED = Q(message__icontains="throttled") | Q(message__icontains="answered 429")
# Patience for one adapter call: the hub's bucket refills, the channel's Retry-After.
MAX_CALL_SECONDS = 120.0


def adapter(channel: Channel) -> ChannelAdapter:
    """The channel's adapter as the drainer builds it, spending the channel's shared token
    bucket before every request (with the drainer's, not beside it)."""
    settings = channel.settings or {}
    return adapter_for(
        channel.kind,
        base_url=settings.get("base_url", ""),
        credentials={"webhook_secret": channel.webhook_secret, **(channel.credentials or {})},
        settings=settings,
        timeout=float(settings.get("timeout_seconds", 10)),
        throttle=token_taker(channel),
    )


class Reader:
    """Adapter calls that wait for the hub's budget instead of failing, and count the
    channel's throttle answers (each one waited out and tried again)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.throttled = 0

    def call(self, fn: Callable[[ChannelAdapter], T]) -> T:
        deadline = time.monotonic() + MAX_CALL_SECONDS
        with adapter(self.channel) as client:
            while True:
                try:
                    return fn(client)
                except ChannelNotSent as exc:  # our own bucket: nothing was sent
                    wait = exc.wait
                except ChannelThrottled as exc:  # the channel refused: a violation
                    self.throttled += 1
                    wait = exc.retry_after or 1.0
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(min(wait, 5.0))

    def missing(self, codes: Sequence[str]) -> list[str]:
        """The SKUs the store does not carry (its adapter's lookup by SKU finds nothing)."""
        found: set[str] = set()
        for chunk in chunked(list(codes), 100):
            found.update(self.call(lambda client, chunk=chunk: client.find_listings(chunk)))
        return [code for code in codes if code not in found]

    def levels(self, sku_ids: Sequence[int]) -> dict[str, int | None]:
        """What the store shows for these SKUs' listings on the channel (None: not found),
        read by the ids the hub keeps for them, in the adapter's batch size."""
        refs = [
            ListingRef(sku=code, external_id=e, external_parent_id=p, external_location_id=loc)
            for code, e, p, loc in Listing.objects.filter(
                channel=self.channel, sku_id__in=sku_ids
            ).values_list("sku__code", "external_id", "external_parent_id", "external_location_id")
        ]
        shown: dict[str, int | None] = {}
        size = min(adapter_class(self.channel.kind).max_batch, 250)
        for chunk in chunked(refs, size):
            shown.update(self.call(lambda client, chunk=chunk: client.read_levels(chunk)))
        return shown


def what_to_create(channel: Channel, missing: Sequence[str], wanted: Sequence[str]) -> str:
    """Exactly what the merchant creates in the store before the bulk test can run."""
    first, last = wanted[0], wanted[-1]
    sample = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return (
        f"the store of channel {channel.slug} ({channel.kind}) does not carry "
        f"{len(missing)} of the {len(wanted)} test SKUs ({sample}). Create "
        f"{TO_CREATE.get(channel.kind, 'a product with that SKU')} for each of "
        f"{first} to {last} (any title and quantity; certify sets the quantity), then run "
        "certify again"
    )


def throttle_answers(channel_ids: Sequence[int], sku_ids: Sequence[int], since: datetime) -> int:
    """Listings whose push or read-back the channel throttled since `since`, from the
    drainer's records (one audit row per listing the answer held back)."""
    return (
        ChannelAudit.objects.filter(
            channel_id__in=channel_ids,
            sku_id__in=sku_ids,
            kind__in=[ChannelAuditKind.FAIL, ChannelAuditKind.DEAD],
            created_at__gte=since,
        )
        .filter(THROTTLED)
        .count()
    )
