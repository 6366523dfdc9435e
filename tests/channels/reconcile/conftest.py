"""Channels on the simulator (real HTTP), and helpers to sync and reconcile them."""

import pytest

from channels.models import Channel
from channels.propagation.drain import outbox_drain_channel
from channels.reconcile.runs import reconcile_channel
from channels.services import channel_create
from ledger.services import sku_create, stock_receive


@pytest.fixture(autouse=True)
def private_networks(monkeypatch):
    # The simulator listens on loopback: the outbound address guard must allow it.
    monkeypatch.setenv("CHANNEL_ALLOW_PRIVATE_NETWORKS", "1")


@pytest.fixture
def connect(sim):
    def connect(kind: str, slug: str, levels: dict[str, int] | None = None) -> Channel:
        store = sim.create_store(kind, slug, levels=levels or {})
        config = store["channel"]
        return channel_create(
            slug=slug,
            kind=kind,
            name=slug,
            webhook_secret=store["webhook_secret"],
            credentials=config["credentials"],
            settings={**config["settings"], "base_url": store["base_url"]},
        )

    return connect


def stocked(code: str, quantity: int):
    sku = sku_create(code=code)
    if quantity:
        stock_receive(sku=sku, quantity=quantity)
    return sku


def drain(channel: Channel) -> int:
    return outbox_drain_channel(channel_id=channel.pk)


def reconcile(channel: Channel, **kwargs):
    return reconcile_channel(channel_id=channel.pk, **kwargs)
