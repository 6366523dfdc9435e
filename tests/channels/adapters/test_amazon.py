"""Amazon specifics: the SP-API SDK pointed at the simulator, LWA, listing issues."""

import pytest

from channels.adapters import ChannelRejected, ChannelThrottled, LevelPush, ListingRef, adapter_for
from channels.adapters.amazon import AMAZON_LWA_TOKEN_URL, AmazonAdapter

from .support import mapped_refs


def test_the_lwa_token_is_fetched_once_and_reused(store_with_adapter, control):
    store, first = store_with_adapter("amazon", {"TEE-S": 5, "MUG": 1})
    channel = store["channel"]
    first.read_levels([ListingRef(sku="TEE-S")])
    with adapter_for(
        "amazon",
        base_url=store["base_url"],
        credentials=channel["credentials"],
        settings=channel["settings"],
    ) as second:
        second.push_levels([LevelPush(ListingRef(sku="MUG"), 4, None, "k")])

    paths = [entry["path"] for entry in control.log(store["store"])]
    assert paths.count("/auth/o2/token") == 1
    assert control.levels(store["store"]) == {"TEE-S": 5, "MUG": 4}


def test_an_invalid_listing_is_a_failed_outcome(store_with_adapter):
    _, adapter = store_with_adapter("amazon", {"TEE-S": 5})
    ref = ListingRef(sku="NOT-LISTED", external_parent_id="PRODUCT")

    [outcome] = adapter.push_levels([LevelPush(ref, 1, None, "k")])

    assert outcome.status == "failed"
    assert "INVALID" in outcome.error and "NOT-LISTED" in outcome.error


def test_a_listing_amazon_does_not_carry_fails_before_any_patch(store_with_adapter, control):
    store, adapter = store_with_adapter("amazon", {"TEE-S": 5})

    [outcome] = adapter.push_levels([LevelPush(ListingRef(sku="NOT-LISTED"), 1, None, "k")])

    assert outcome.status == "failed"
    assert outcome.error == "amazon: SKU 'NOT-LISTED' is not listed on Amazon"
    assert "PATCH" not in {entry["method"] for entry in control.log(store["store"])}


def test_another_sellers_listing_is_rejected(control):
    store = control.create_store("amazon", "pinned", levels={"TEE-S": 5}, seller_id="A1SELLER")
    settings = {**store["channel"]["settings"], "seller_id": "A2OTHER"}
    with (
        adapter_for(
            "amazon",
            base_url=store["base_url"],
            credentials=store["channel"]["credentials"],
            settings=settings,
        ) as adapter,
        pytest.raises(ChannelRejected) as rejected,
    ):
        adapter.read_levels([ListingRef(sku="TEE-S")])

    assert rejected.value.status_code == 403


def test_patches_beyond_the_documented_rate_are_throttled(store_with_adapter, control):
    store, adapter = store_with_adapter("amazon", {"TEE-S": 5}, rate_limit=None)
    ref = mapped_refs(store)["TEE-S"]

    with pytest.raises(ChannelThrottled) as throttled:
        for n in range(20):  # burst 5 at 5/s: this runs out long before the loop does
            adapter.push_levels([LevelPush(ref, n, None, f"k{n}")])

    assert 0 < throttled.value.retry_after <= 1
    assert control.stats()["stores"][store["store"]]["rate_limit_violations"] == 1


def test_the_token_url_follows_the_endpoint():
    amazon = AmazonAdapter(
        base_url="https://sellingpartnerapi-na.amazon.com", credentials={}, settings={}
    )
    simulated = AmazonAdapter(
        base_url="http://127.0.0.1:9/amazon/store", credentials={}, settings={}
    )
    configured = AmazonAdapter(
        base_url="http://127.0.0.1:9/amazon/store",
        credentials={},
        settings={"lwa_token_url": "http://127.0.0.1:9/lwa"},
    )

    assert amazon.token_url == AMAZON_LWA_TOKEN_URL
    assert simulated.token_url == "http://127.0.0.1:9/amazon/store/auth/o2/token"
    assert configured.token_url == "http://127.0.0.1:9/lwa"
    for adapter in (amazon, simulated, configured):
        adapter.close()
