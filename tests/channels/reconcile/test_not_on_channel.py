"""A SKU a channel does not carry is a state, "not on channel": no pushes, no DLQ
entries; the next reconcile lists it when the channel starts carrying it."""

import pytest

from channels.models import Listing, ListingState, OutboxEntry, OutboxStatus
from channels.services import listing_map
from ledger.services import stock_adjust, stock_receive

from .conftest import drain, reconcile, stocked

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["woocommerce", "shopify", "ebay"])
def test_a_new_sku_the_channel_does_not_carry_leaves_the_dlq_empty(connect, sim, kind):
    stocked("CARRIED", 5)
    channel = connect(kind, "store", {"CARRIED": 5})
    drain(channel)

    new = stocked("NEW-SKU", 8)  # listed on every channel by code
    drain(channel)
    listing = Listing.objects.get(channel=channel, sku=new)
    assert listing.state == ListingState.NOT_ON_CHANNEL
    assert not OutboxEntry.objects.filter(status=OutboxStatus.DEAD).exists()

    for _ in range(3):  # later movements queue nothing for it
        stock_adjust(sku=new, quantity=-1)
    assert not OutboxEntry.objects.filter(listing=listing, status=OutboxStatus.PENDING).exists()
    drain(channel)
    assert not OutboxEntry.objects.filter(status=OutboxStatus.DEAD).exists()

    # The merchant adds it on the channel; the next reconcile lists it again.
    sim.set_levels("store", {"NEW-SKU": 0})
    run = reconcile(channel)
    assert run.discovered == 1
    listing.refresh_from_db()
    assert listing.state == ListingState.PENDING
    drain(channel)
    listing.refresh_from_db()
    assert listing.state == ListingState.IN_SYNC
    assert sim.levels("store")["NEW-SKU"] == 5


def test_mapping_a_listing_that_was_not_on_the_channel_tries_again(connect, sim):
    stocked("C", 1)
    channel = connect("woocommerce", "store", {"C": 1})
    drain(channel)
    sku = stocked("LATER", 2)
    drain(channel)
    listing = Listing.objects.get(channel=channel, sku=sku)
    assert listing.state == ListingState.NOT_ON_CHANNEL

    sim.set_levels("store", {"LATER": 0})
    listing_map(channel=channel, sku=sku)
    listing.refresh_from_db()
    assert listing.state == ListingState.PENDING
    stock_receive(sku=sku, quantity=1)
    drain(channel)
    assert sim.levels("store")["LATER"] == 3
