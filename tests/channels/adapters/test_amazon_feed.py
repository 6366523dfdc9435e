"""Amazon's bulk path against the simulator over real HTTP, no mocks: a JSON_LISTINGS_FEED
from the feed threshold on, searchListingsItems for large read-backs, and the documented
per-operation limits never exceeded (the stores enforce them, as Amazon does)."""

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from channels.adapters import LevelPush, ListingRef, adapter_for
from channels.adapters.amazon import BUDGET_SHARE, FEED_OPERATION_LIMITS, AmazonAdapter
from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.drain import outbox_drain_channel, token_taker
from channels.services import channel_create
from foundation import ratelimit
from ledger.models import Sku
from ledger.services import sku_create, stock_receive
from simulator import SimulatorClient

from .support import statuses

SEARCH = "searchListingsItems"


def skus(count: int, prefix: str = "SKU") -> list[str]:
    return [f"{prefix}-{n:04d}" for n in range(count)]


def hub_bucket(name: str) -> Callable[[], None]:
    """The hub's per-channel token bucket, as the drainer sets it up for an Amazon channel."""
    return token_taker(
        SimpleNamespace(
            slug=name,
            rate_limit_per_second=AmazonAdapter.rate_per_second,
            rate_limit_burst=AmazonAdapter.burst,
        )
    )


@pytest.fixture
def amazon(control: SimulatorClient) -> Iterator[Callable[..., tuple[dict[str, Any], Any]]]:
    """``(levels, **adapter settings)`` -> (store, adapter): a store with Amazon's documented
    rate limits and an adapter behind the hub's token bucket."""
    adapters = []

    def make(levels: dict[str, int], **settings: Any) -> tuple[dict[str, Any], Any]:
        name = f"amz-{len(adapters)}"
        store = control.create_store("amazon", name, levels=levels)
        adapter = adapter_for(
            "amazon",
            base_url=store["base_url"],
            credentials=store["channel"]["credentials"],
            settings={**store["channel"]["settings"], **settings},
            timeout=5,
            throttle=hub_bucket(name),
        )
        adapters.append(adapter)
        return store, adapter

    yield make
    for adapter in adapters:
        adapter.close()


def pushes_for(
    quantities: dict[str, int], product_types: dict[str, str] | None = None
) -> list[LevelPush]:
    """Pushes for listings the hub holds by SKU (with the product types it has kept)."""
    kept = product_types or {}
    return [
        LevelPush(
            ref=ListingRef(sku=sku, external_parent_id=kept.get(sku, "")),
            quantity=quantity,
            expected=None,
            key=f"k-{sku}",
        )
        for sku, quantity in quantities.items()
    ]


def listings(store: dict[str, Any], **attributes: dict[str, Any]) -> dict[str, Any]:
    """Set the simulated store's listings' product types / availability entries."""
    answer = httpx.put(f"{store['base_url']}/_simulator/listings", json=attributes)
    answer.raise_for_status()
    return answer.json()


def operations(control: SimulatorClient, store: dict[str, Any]) -> Counter[str]:
    """The store's API requests by SP-API operation."""
    seller = store["channel"]["settings"]["seller_id"]
    names = {
        ("PATCH", 5): "patchListingsItem",
        ("GET", 5): "getListingsItem",
        ("GET", 4): SEARCH,
        ("POST", "documents"): "createFeedDocument",
        ("POST", "feeds"): "createFeed",
        ("GET", "documents"): "getFeedDocument",
        ("GET", "feeds"): "getFeed",
        ("PUT", "_s3"): "upload",
        ("GET", "_s3"): "download",
        ("POST", "auth"): "token",
    }
    counted: Counter[str] = Counter()
    for entry in control.log(store["store"]):
        parts = entry["path"].strip("/").split("/")
        if parts[0] == "listings":
            assert parts[3] == seller
            key: tuple[str, Any] = (entry["method"], len(parts))
        elif parts[0] == "feeds":
            key = (entry["method"], parts[2])
        else:
            key = (entry["method"], parts[0])
        counted[names.get(key, f"{entry['method']} {entry['path']}")] += 1
    return counted


def violations(control: SimulatorClient) -> int:
    return control.stats()["rate_limit_violations"]


def feed_processing(store: dict[str, Any], **seconds: float) -> None:
    """How long the simulated store keeps its feeds IN_QUEUE and IN_PROGRESS."""
    answer = httpx.put(f"{store['base_url']}/_simulator/feeds", json=seconds)
    answer.raise_for_status()


# -- push ---------------------------------------------------------------------------------


def test_a_large_batch_is_one_feed_and_converges(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(300), 0))
    wanted = {sku: n % 17 + 1 for n, sku in enumerate(skus(300))}

    started = time.monotonic()
    outcomes = adapter.push_levels(pushes_for(wanted))
    pushed = time.monotonic() - started

    assert statuses(outcomes) == dict.fromkeys(wanted, "accepted")
    assert control.levels(store["store"]) == wanted
    counted = operations(control, store)
    assert counted["createFeedDocument"] == counted["upload"] == counted["createFeed"] == 1
    assert counted["getFeedDocument"] == counted["download"] == 1
    assert counted["patchListingsItem"] == 0
    [create] = [e for e in control.log(store["store"]) if e["path"] == "/feeds/2021-06-30/feeds"]
    assert create["items"] == 300
    assert adapter.read_levels([ListingRef(sku=sku) for sku in wanted]) == wanted
    assert violations(control) == 0
    assert pushed < 10


def test_the_feed_document_is_a_json_listings_feed_of_patches(amazon):
    _, adapter = amazon({})

    document = json.loads(adapter.feed_document(pushes_for({"TEE-S": 4, "MUG": 0})))

    assert document["header"] == {
        "sellerId": "A1SIMSELLER",
        "version": "2.0",
        "issueLocale": "en_US",
    }
    assert document["messages"][1] == {
        "messageId": 2,
        "sku": "MUG",
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
            }
        ],
    }


def test_a_batch_under_the_threshold_is_patched_sku_by_sku(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(10), 1))
    wanted = dict.fromkeys(skus(10), 6)

    outcomes = adapter.push_levels(pushes_for(wanted))

    assert statuses(outcomes) == dict.fromkeys(wanted, "accepted")
    counted = operations(control, store)
    assert counted["patchListingsItem"] == 10
    assert counted["createFeedDocument"] == counted["createFeed"] == 0
    assert control.levels(store["store"]) == wanted
    assert violations(control) == 0


def test_the_threshold_is_a_setting(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(9), 1), feed_threshold=5)

    adapter.push_levels(pushes_for(dict.fromkeys(skus(4), 2)))
    assert operations(control, store)["createFeed"] == 0
    adapter.push_levels(pushes_for(dict.fromkeys(skus(9)[4:], 3)))

    counted = operations(control, store)
    assert (counted["patchListingsItem"], counted["createFeed"]) == (4, 1)
    assert set(control.levels(store["store"]).values()) == {2, 3}


def test_a_message_error_fails_that_sku_and_accepts_the_others(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(60), 0))
    listings(store, **{"SKU-0007": {"productType": "SHIRT"}})
    wanted = {**dict.fromkeys(skus(30), 5), "NOT-LISTED": 5, **dict.fromkeys(skus(60)[30:], 8)}
    # The hub holds every product type already; SKU-0007's is out of date.
    kept = {**dict.fromkeys(skus(60), "PRODUCT"), "NOT-LISTED": "PRODUCT"}

    outcomes = adapter.push_levels(pushes_for(wanted, kept))

    by_sku = {outcome.ref.sku: outcome for outcome in outcomes}
    assert by_sku["NOT-LISTED"].status == "failed"
    assert "SKU 'NOT-LISTED' not found for seller." in by_sku["NOT-LISTED"].error
    assert by_sku["SKU-0007"].status == "failed"
    assert "4000003" in by_sku["SKU-0007"].error
    others = {sku: o.status for sku, o in by_sku.items() if sku not in ("NOT-LISTED", "SKU-0007")}
    assert others == dict.fromkeys(set(skus(60)) - {"SKU-0007"}, "accepted")
    assert control.levels(store["store"]) == {
        **{k: v for k, v in wanted.items() if k != "NOT-LISTED"},
        "SKU-0007": 0,
    }
    assert operations(control, store)["getListingsItem"] == 0  # nothing was looked up
    assert violations(control) == 0


def test_a_feed_still_in_progress_at_the_timeout_is_retried(amazon, control):
    store, adapter = amazon(
        dict.fromkeys(skus(60), 0), feed_timeout_seconds=1.5, feed_poll_seconds=0.5
    )
    feed_processing(store, processing_seconds=30)

    started = time.monotonic()
    outcomes = adapter.push_levels(pushes_for(dict.fromkeys(skus(60), 4)))
    elapsed = time.monotonic() - started

    assert {outcome.status for outcome in outcomes} == {"retry"}
    assert "still IN_PROGRESS after 1.5s" in outcomes[0].error
    assert 1.5 <= elapsed < 4
    counted = operations(control, store)
    assert counted["createFeed"] == 1 and 1 <= counted["getFeed"] <= 4
    assert counted["getFeedDocument"] == 0
    assert set(control.levels(store["store"]).values()) == {0}
    assert violations(control) == 0


def test_dropped_writes_are_accepted_by_the_feed_but_not_shown(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(60), 1))
    control.set_faults(store["store"], drop_writes=True)

    outcomes = adapter.push_levels(pushes_for(dict.fromkeys(skus(60), 9)))

    assert {outcome.status for outcome in outcomes} == {"accepted"}
    refs = [ListingRef(sku=sku) for sku in skus(60)]
    assert adapter.read_levels(refs) == dict.fromkeys(skus(60), 1)
    assert control.stats()["stores"][store["store"]]["writes_dropped"] == 60


def test_no_feed_is_sent_while_the_create_feed_budget_is_spent(amazon, control):
    store, adapter = amazon(dict.fromkeys(skus(60), 0))
    rate, burst = FEED_OPERATION_LIMITS["createFeed"]
    burst = max(1, int(burst * BUDGET_SHARE))
    key = adapter.budget_key("createFeed")
    assert ratelimit.take(key, rate=rate * BUDGET_SHARE, burst=burst, tokens=burst) == 0

    outcomes = adapter.push_levels(pushes_for(dict.fromkeys(skus(60), 4)))

    assert {outcome.status for outcome in outcomes} == {"retry"}
    assert outcomes[0].retry_after > 60
    assert "createFeed budget" in outcomes[0].error
    assert operations(control, store)["createFeed"] == 0


def test_the_store_meters_each_feeds_operation_on_its_own_budget(control):
    store = control.create_store("amazon", "amz-limits", levels={"MUG": 1})
    base = store["base_url"]
    with httpx.Client(headers={"x-amz-access-token": "Atza|test"}) as client:
        # createFeed: burst 15, then one per 120 s (an unknown document is still a call).
        feeds = [client.post(f"{base}/feeds/2021-06-30/feeds", json={}) for _ in range(16)]
        document = client.post(f"{base}/feeds/2021-06-30/documents", json={"contentType": "x"})
        search = client.get(
            f"{base}/listings/2021-08-01/items/A1SIMSELLER",
            params={
                "marketplaceIds": "ATVPDKIKX0DER",
                "identifiers": ",".join(skus(21)),
                "identifiersType": "SKU",
            },
        )

    assert [answer.status_code for answer in feeds] == [400] * 15 + [429]
    assert feeds[-1].headers["x-amzn-RateLimit-Limit"] == "0.0083"
    assert float(feeds[-1].headers["Retry-After"]) > 100
    assert document.status_code == 201
    assert search.status_code == 400 and "at most 20" in search.text
    assert violations(control) == 1


# -- read ---------------------------------------------------------------------------------


def test_reading_back_300_skus_searches_20_at_a_time(amazon, control):
    levels = {sku: n for n, sku in enumerate(skus(300)[:-1])}
    store, adapter = amazon(levels)
    refs = [ListingRef(sku=sku) for sku in skus(300)]  # the last one is not listed

    started = time.monotonic()
    shown = adapter.read_levels(refs)
    elapsed = time.monotonic() - started

    assert shown == {**levels, skus(300)[-1]: None}
    counted = operations(control, store)
    assert counted[SEARCH] <= 15
    assert counted["getListingsItem"] == 0
    assert violations(control) == 0
    assert elapsed < 10


def test_a_few_skus_and_skus_with_a_comma_are_read_one_by_one(amazon, control):
    levels = {"TEE-S": 1, "TEE-M": 2, "MUG": 3, "CAP,RED": 4}
    store, adapter = amazon(levels)

    assert adapter.read_levels([ListingRef(sku="TEE-S"), ListingRef(sku="MUG")]) == {
        "TEE-S": 1,
        "MUG": 3,
    }
    assert operations(control, store)[SEARCH] == 0

    assert adapter.read_levels([ListingRef(sku=sku) for sku in levels]) == levels
    counted = operations(control, store)
    assert (counted[SEARCH], counted["getListingsItem"]) == (1, 3)
    assert set(adapter.find_listings([*levels, "NOT-LISTED"])) == set(levels)


# -- the drainer --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_drainer_confirms_500_skus_through_one_feed(control):
    codes = skus(500, "BULK")
    store = control.create_store(
        "amazon", "amz-bulk", levels=dict.fromkeys(codes, 0), webhook_url="http://127.0.0.1:9/"
    )
    config = store["channel"]
    channel = channel_create(
        slug="amz-bulk",
        kind="amazon",
        name="Amazon (bulk)",
        webhook_secret=store.get("webhook_secret") or "",
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"]},
    )
    assert channel.batch_size >= len(codes)  # the 500 SKUs fit one claim, one feed
    for n, code in enumerate(codes):
        stock_receive(sku=sku_create(code=code), quantity=n % 9 + 1)

    started = time.monotonic()
    handled = outbox_drain_channel(channel_id=channel.pk)
    elapsed = time.monotonic() - started

    assert handled == 500
    statuses_ = Counter(
        OutboxEntry.objects.filter(channel=channel).values_list("status", flat=True)
    )
    assert statuses_ == {OutboxStatus.CONFIRMED: 500}
    published = dict(Listing.objects.filter(channel=channel).values_list("sku__code", "published"))
    assert control.levels("amz-bulk") == published
    assert set(Listing.objects.filter(channel=channel).values_list("state", flat=True)) == {
        "in_sync"
    }
    counted = operations(control, store)
    # 25 searches read the product types (summaries), 25 read the levels back.
    assert counted["createFeed"] == 1 and counted[SEARCH] == 50
    assert set(
        Listing.objects.filter(channel=channel).values_list("external_parent_id", flat=True)
    ) == {"PRODUCT"}
    assert violations(control) == 0
    assert elapsed < 30

    # The product types are kept: the next feed reads the levels back and nothing else.
    for code in codes:
        stock_receive(sku=Sku.objects.get(code=code), quantity=1)
    assert outbox_drain_channel(channel_id=channel.pk) == 500
    assert operations(control, store)[SEARCH] == 50 + 25
    assert control.levels("amz-bulk") == dict(
        Listing.objects.filter(channel=channel).values_list("sku__code", "published")
    )
