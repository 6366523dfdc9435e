"""eBay's 250 revisions per listing per day: the drainer spends them (freely at first,
then spaced, halvings and sold-out at once, never past the cap), against the simulator's
eBay store, which refuses a revision past the cap and counts it."""

import httpx
import pytest

from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.drain import outbox_drain_channel
from channels.propagation.revisions import WINDOW, revision_cap, revision_wait, revisions_used
from ledger.services import stock_adjust
from tests.channels.test_drain_query_cost import connect, receive

pytestmark = pytest.mark.django_db

NOW = 1_000_000.0


def wait(used, quantity, shown=100, *, cap=250, last_at=NOW - 1, oldest_at=NOW - 3600):
    return revision_wait(
        cap=cap,
        used=used,
        last_at=last_at,
        oldest_at=oldest_at,
        now=NOW,
        quantity=quantity,
        shown=shown,
    )


def test_the_first_half_of_the_cap_goes_freely():
    assert wait(0, 101) == 0
    assert wait(124, 150) == 0


def test_past_half_increases_and_small_decreases_are_spread_over_the_day():
    # 225 to spend before the reserve, 125 used: the next one waits a day / 100.
    assert wait(125, 150) == pytest.approx(WINDOW / 100 - 1)
    assert wait(125, 60) == pytest.approx(WINDOW / 100 - 1)
    assert wait(200, 60) == pytest.approx(WINDOW / 25 - 1)
    # ... unless the oldest revision leaves the window first.
    assert wait(200, 60, oldest_at=NOW - WINDOW + 30) == pytest.approx(30)


def test_a_halving_goes_at_once_and_sold_out_may_spend_the_reserve():
    assert wait(200, 50, shown=100) == 0
    assert wait(200, 51, shown=100) > 0
    assert wait(230, 50, shown=100) > 0  # the reserve is for sold-out only
    assert wait(230, 0) == 0
    assert wait(249, 0) == 0


def test_at_the_cap_nothing_goes_until_the_oldest_revision_leaves_the_window():
    assert wait(250, 0, oldest_at=NOW - WINDOW + 120) == pytest.approx(120)


def test_an_ebay_listing_is_never_revised_past_its_cap(sim):
    # The store refuses an 11th revision a day; the channel knows its cap: 5 free, then
    # spaced, 1 reserved for sold out.
    channel, (sku,) = connect(sim, "ebay", "ebay", {"A": 0}, revisions_per_listing_per_day=10)
    store = sim.create_store(
        "ebay",
        "ebay",
        levels={"A": 0},
        webhook_url="http://127.0.0.1:9/",
        revisions_per_listing_per_day=10,
    )
    assert store["listings"]["A"]["external_id"] == Listing.objects.get().external_id
    assert revision_cap(channel) == 10
    receive([sku], 100)
    for _ in range(8):  # a sale a round: the hub wants eBay to follow every time
        outbox_drain_channel(channel_id=channel.pk)
        stock_adjust(sku=sku, quantity=-1)
    outbox_drain_channel(channel_id=channel.pk)
    entry = OutboxEntry.objects.get(channel=channel, status=OutboxStatus.PENDING)
    assert "revision budget" in entry.last_error and entry.attempts == 0
    assert revisions_used(channel, entry.listing_id) == 5
    assert sim.levels("ebay") == {"A": 96}  # the fifth revision; 92 waits
    assert Listing.objects.get().state == "pending"
    # Sold out goes at once (the entry is looked at again as the sweep would, later).
    stock_adjust(sku=sku, quantity=-92)
    OutboxEntry.objects.filter(pk=entry.pk).update(next_attempt_at=entry.created_at)
    outbox_drain_channel(channel_id=channel.pk)
    assert sim.levels("ebay") == {"A": 0}
    assert Listing.objects.get().state == "in_sync"
    assert revisions_used(channel, entry.listing_id) == 6
    assert sim.stats()["stores"]["ebay"]["revision_limit_violations"] == 0


def test_the_simulator_refuses_a_revision_past_the_cap_and_counts_it(sim):
    store = sim.create_store("ebay", "ebay", levels={"A": 5}, revisions_per_listing_per_day=2)
    config = store["channel"]
    headers = {"Authorization": f"Bearer {config['credentials']['access_token']}"}
    url = f"{store['base_url']}/sell/inventory/v1/bulk_update_price_quantity"
    body = {"requests": [{"sku": "A", "shipToLocationAvailability": {"quantity": 3}}]}
    codes = [
        httpx.post(url, json=body, headers=headers).json()["responses"][0]["statusCode"]
        for _ in range(3)
    ]
    assert codes == [200, 200, 400]
    assert sim.stats()["stores"]["ebay"]["revision_limit_violations"] == 1


def test_a_bad_revision_cap_for_a_simulated_store_is_refused(sim):
    answer = httpx.post(
        f"{sim.url}/_control/stores",
        json={"kind": "ebay", "store": "x", "revisions_per_listing_per_day": 0},
    )
    assert answer.status_code == 400 and "revisions_per_listing_per_day" in answer.text
