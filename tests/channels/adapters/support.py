"""Helpers shared by the adapter tests."""

import socket
from collections.abc import Mapping, Sequence
from typing import Any

from channels.adapters import ChannelAdapter, LevelPush, ListingRef, PushOutcome

ALL_KINDS = ["shopify", "woocommerce", "amazon", "ebay", "standard", "sandbox"]


def mapped_refs(store: Mapping[str, Any]) -> dict[str, ListingRef]:
    """The refs a hub holds once its listings are mapped to the store's ids."""
    return {sku: ListingRef(**listing) for sku, listing in store["listings"].items()}


def push_all(
    adapter: ChannelAdapter, refs: Mapping[str, ListingRef], quantities: Mapping[str, int]
) -> list[PushOutcome]:
    """Push every quantity, max_batch at a time, as the drainer does."""
    pushes = [
        LevelPush(ref=refs[sku], quantity=quantity, expected=None, key=f"test-{sku}-{quantity}")
        for sku, quantity in quantities.items()
    ]
    outcomes: list[PushOutcome] = []
    for start in range(0, len(pushes), adapter.max_batch):
        outcomes.extend(adapter.push_levels(pushes[start : start + adapter.max_batch]))
    return outcomes


def statuses(outcomes: Sequence[PushOutcome]) -> dict[str, str]:
    return {outcome.ref.sku: outcome.status for outcome in outcomes}


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
