"""The drainer paces Shopify by GraphQL query cost, against the simulator over real HTTP
with Shopify's Standard-plan bucket (1000 points, 100 restored a second), and every other
kind still by request."""

import time
from types import SimpleNamespace

import pytest
from django.db.models import Min
from django.utils import timezone

from channels.adapters.base import ChannelNotSent, ListingRef, outcomes_for_error
from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.drain import TokensExhausted, outbox_drain_channel, token_taker
from channels.services import channel_create, listing_map
from foundation import ratelimit
from ledger.services import skus_create, stock_receive_lines

pytestmark = pytest.mark.django_db

CODES = [f"SKU-{n:04d}" for n in range(250)]


def channel_on_store(sim, kind, slug, levels, **settings):
    """(channel, store): a store with its kind's documented rate limits (no rate_limit
    option) and the hub's channel on it, which knows none of the store's ids yet."""
    store = sim.create_store(kind, slug, levels=levels, webhook_url="http://127.0.0.1:9/")
    config = store["channel"]
    channel = channel_create(
        slug=slug,
        kind=kind,
        name=slug,
        webhook_secret=store.get("webhook_secret") or "",
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"], **settings},
    )
    return channel, store


def connect(sim, kind, slug, levels, **settings):
    """A channel on a store (see channel_on_store), its SKUs created and their listings
    mapped to the store's ids."""
    channel, store = channel_on_store(sim, kind, slug, levels, **settings)
    skus = skus_create(items=[{"code": code} for code in levels])
    for sku in skus:
        ids = store["listings"][sku.code]
        listing_map(
            channel=channel,
            sku=sku,
            external_id=ids["external_id"],
            external_parent_id=ids["external_parent_id"],
            external_location_id=ids["external_location_id"],
        )
    return channel, skus


def receive(skus, quantity):
    stock_receive_lines(lines=[(sku, quantity) for sku in skus])


def drain_until_done(channel, *, deadline=60.0):
    """Drain as the sweep would: again whenever the earliest pending entry is due. Only our
    own bucket may hold entries back (deferred); a throttle from the channel fails."""
    started = time.monotonic()
    while True:
        outbox_drain_channel(channel_id=channel.pk)
        pending = OutboxEntry.objects.filter(
            channel=channel, status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
        )
        if not pending.exists():
            return
        errors = set(pending.values_list("last_error", flat=True))
        assert all(error.startswith("rate limit: next token") for error in errors), errors
        assert time.monotonic() - started < deadline, "the drain did not complete"
        due = pending.aggregate(due=Min("next_attempt_at"))["due"]
        time.sleep(min(2.0, max(0.0, (due - timezone.now()).total_seconds())))


def assert_converged(sim, channel):
    published = dict(Listing.objects.filter(channel=channel).values_list("sku__code", "published"))
    assert sim.levels(channel.slug) == published
    assert set(Listing.objects.filter(channel=channel).values_list("state", flat=True)) == {
        "in_sync"
    }


def bucket_level(slug, *, rate, burst):
    """What the hub's bucket holds (as token_taker sets it up): asking for all of it
    answers the wait for the shortfall, and takes nothing."""
    return burst - ratelimit.take(slug, rate=rate, burst=burst, tokens=burst) * rate


def test_a_new_shopify_channel_budgets_in_points(sim):
    channel, _ = connect(sim, "shopify", "shop", {})

    assert (channel.rate_limit_per_second, channel.rate_limit_burst) == (100.0, 1000)


def test_a_drain_of_250_listings_pushes_and_reads_back_within_the_bucket(sim):
    channel, skus = connect(sim, "shopify", "shop", dict.fromkeys(CODES, 0))
    receive(skus, 7)

    drain_until_done(channel)

    assert_converged(sim, channel)
    stats = sim.stats()["stores"]["shop"]
    # One mutation (10 points) and one read of 250 items (501 points).
    assert (stats["writes"], stats["reads"]) == (1, 1)
    assert stats["rate_limit_violations"] == 0


def test_sustained_changes_are_paced_under_the_restore_rate(sim):
    channel, skus = connect(sim, "shopify", "shop", dict.fromkeys(CODES, 0))
    started = time.monotonic()

    # Three rounds back to back: 3 x (10 + 501) points, more than the store's bucket holds.
    for round_ in range(3):
        receive(skus, round_ + 1)
        drain_until_done(channel)

    assert_converged(sim, channel)
    assert sim.levels("shop") == dict.fromkeys(CODES, 6)
    assert sim.stats()["stores"]["shop"]["rate_limit_violations"] == 0
    # Our bucket (900 points, 90 a second) made the drain wait for the points it spent.
    assert time.monotonic() - started >= (3 * 511 - 900) / 90 * 0.9


def test_a_shopify_drain_takes_its_query_cost_from_the_bucket(sim):
    rate = 0.01  # points restored a second: nothing to speak of within the test
    channel, skus = connect(
        sim,
        "shopify",
        "shop",
        {"A": 0, "B": 0, "C": 0},
        rate_limit_per_second=rate,
        rate_limit_burst=1000,
    )
    receive(skus, 5)

    outbox_drain_channel(channel_id=channel.pk)

    assert_converged(sim, channel)
    # A mutation (10) and a read of three items (1 + 2 x 3) from our 900-point share.
    assert bucket_level("shop", rate=rate * 0.9, burst=900) == pytest.approx(900 - 17, abs=0.1)


@pytest.mark.parametrize("kind", ["woocommerce", "ebay", "standard"])
def test_other_kinds_take_one_token_per_request(sim, kind):
    rate = 0.01
    channel, skus = connect(
        sim, kind, kind, {"A": 0, "B": 0}, rate_limit_per_second=rate, rate_limit_burst=100
    )
    receive(skus, 5)

    outbox_drain_channel(channel_id=channel.pk)

    assert_converged(sim, channel)
    requests = sim.stats()["stores"][kind]["requests"]
    assert requests >= 2  # a push and a read-back at least
    assert bucket_level(kind, rate=rate * 0.9, burst=90) == pytest.approx(90 - requests, abs=0.1)


def test_a_cost_above_the_whole_bucket_empties_it_instead_of_waiting_forever():
    take = token_taker(
        SimpleNamespace(slug="tiny", rate_limit_per_second=10.0, rate_limit_burst=100)
    )

    take(5000)  # clamped to our 90-token share: granted from a full bucket

    started = time.monotonic()
    with pytest.raises(TokensExhausted) as exhausted:
        take(5000)  # a full bucket again is 10 s away: too long for a worker to sleep
    assert time.monotonic() - started < 0.5
    assert exhausted.value.wait == pytest.approx(10, abs=0.5)


def test_the_throttle_takes_one_token_unless_told_a_cost():
    take = token_taker(
        SimpleNamespace(slug="plain", rate_limit_per_second=0.01, rate_limit_burst=100)
    )

    take()
    take()
    take(2.5)

    assert bucket_level("plain", rate=0.009, burst=90) == pytest.approx(90 - 4.5, abs=0.1)


def test_ids_looked_up_by_sku_are_kept_so_the_next_push_sends_no_lookup(sim):
    channel, store = channel_on_store(sim, "shopify", "lookup", dict.fromkeys(CODES[:20], 0))
    skus = skus_create(items=[{"code": code} for code in CODES[:20]])  # listed, ids unknown
    assert set(Listing.objects.values_list("external_id", flat=True)) == {""}

    receive(skus, 3)
    drain_until_done(channel)
    first = [call["operation"] for call in sim.log("lookup")]
    # Looked up once (a read), pushed (a write), read back by id (a read): the read-back
    # uses the ids the push found rather than searching again.
    assert sorted(first) == ["read", "read", "write"]

    expected = {code: ids["external_id"] for code, ids in store["listings"].items()}
    assert dict(Listing.objects.values_list("sku__code", "external_id")) == expected
    receive(skus, 2)
    drain_until_done(channel)
    second = [call["operation"] for call in sim.log("lookup")][len(first) :]
    assert sorted(second) == ["read", "write"]  # no lookup: the ids were kept
    assert sim.levels("lookup") == {code: 5 for code in CODES[:20]}


def test_items_a_spent_budget_held_back_are_deferred_not_failed():
    refs = [ListingRef(sku="A"), ListingRef(sku="B")]
    outcomes = outcomes_for_error(refs, TokensExhausted(3.5))
    assert [(o.status, o.retry_after) for o in outcomes] == [("deferred", 3.5)] * 2
    assert isinstance(TokensExhausted(1.0), ChannelNotSent)


def test_ids_a_push_looked_up_are_kept_when_the_read_back_must_wait(sim):
    channel, store = channel_on_store(sim, "woocommerce", "woo-wait", dict.fromkeys(CODES[:5], 0))
    # A budget of two requests, refilling far too slowly: the lookup and the push go out,
    # the read-back has to wait.
    channel.rate_limit_per_second, channel.rate_limit_burst = 0.01, 3
    channel.save(update_fields=["rate_limit_per_second", "rate_limit_burst"])
    skus = skus_create(items=[{"code": code} for code in CODES[:5]])
    receive(skus, 2)

    outbox_drain_channel(channel_id=channel.pk)

    entries = OutboxEntry.objects.filter(channel=channel)
    assert set(entries.values_list("status", "attempts")) == {(OutboxStatus.PENDING, 0)}
    expected = {code: ids["external_id"] for code, ids in store["listings"].items()}
    assert dict(Listing.objects.values_list("sku__code", "external_id")) == expected
