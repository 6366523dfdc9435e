"""Shopify specifics: compare-and-set, idempotency, cost-based throttling, locations."""

import pytest

from channels.adapters import ChannelThrottled, LevelPush, ListingRef, adapter_for
from channels.adapters.base import ChannelNeedsAction

from .support import mapped_refs, statuses


def push(ref, quantity, expected, key="entry-1"):
    return LevelPush(ref=ref, quantity=quantity, expected=expected, key=key)


def writes(control, store):
    return [entry for entry in control.log(store["store"]) if entry["operation"] == "write"]


def test_a_sale_between_read_and_push_makes_the_push_stale(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10})
    ref = mapped_refs(store)["TEE-S"]
    expected = adapter.read_levels([ref])["TEE-S"]
    control.place_order(store["store"], [{"sku": "TEE-S", "quantity": 2}])

    [outcome] = adapter.push_levels([push(ref, 7, expected)])

    assert outcome.status == "stale"
    assert "CHANGE_FROM_QUANTITY_STALE" in outcome.error
    assert outcome.channel_quantity == 8
    assert control.levels(store["store"]) == {"TEE-S": 8}


def test_a_push_with_the_current_quantity_as_expected_is_accepted(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10})
    ref = mapped_refs(store)["TEE-S"]

    [outcome] = adapter.push_levels([push(ref, 7, 10)])

    assert outcome.status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 7}


def test_stale_entries_do_not_hold_back_the_rest_of_the_batch(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10, "TEE-M": 10, "MUG": 3})
    refs = mapped_refs(store)
    control.place_order(store["store"], [{"sku": "TEE-S", "quantity": 1}])

    outcomes = adapter.push_levels(
        [
            push(refs["TEE-S"], 5, 10, "a"),
            push(refs["TEE-M"], 4, 10, "b"),
            push(refs["MUG"], 1, None, "c"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "stale", "TEE-M": "accepted", "MUG": "accepted"}
    assert control.levels(store["store"]) == {"TEE-S": 9, "TEE-M": 4, "MUG": 1}
    # Shopify refuses the whole mutation; the adapter resends the others once.
    assert [entry["items"] for entry in writes(control, store)] == [3, 2]


def test_resending_the_same_batch_is_not_applied_twice(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10})
    ref = mapped_refs(store)["TEE-S"]
    batch = [push(ref, 7, None)]
    assert adapter.push_levels(batch)[0].status == "accepted"
    control.set_levels(store["store"], {"TEE-S": 6})

    [outcome] = adapter.push_levels(batch)  # e.g. the first answer was lost to a timeout

    assert outcome.status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 6}


def test_a_dropped_write_is_applied_when_resent(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10})
    ref = mapped_refs(store)["TEE-S"]
    control.set_faults(store["store"], drop_writes=True)
    assert adapter.push_levels([push(ref, 7, 10)])[0].status == "accepted"
    assert adapter.read_levels([ref]) == {"TEE-S": 10}
    control.clear_faults()

    assert adapter.push_levels([push(ref, 7, 10)])[0].status == "accepted"
    assert adapter.read_levels([ref]) == {"TEE-S": 7}


def test_an_unchanged_quantity_is_accepted(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 10})

    [outcome] = adapter.push_levels([push(mapped_refs(store)["TEE-S"], 10, 10)])

    assert outcome.status == "accepted"


def test_throttling_by_query_cost_raises_with_the_wait(store_with_adapter, control):
    store, adapter = store_with_adapter(
        "shopify", {"TEE-S": 10}, rate_limit={"rate": 10, "burst": 25}
    )
    ref = mapped_refs(store)["TEE-S"]
    adapter.push_levels([push(ref, 9, None, "a")])  # costs 10
    adapter.push_levels([push(ref, 8, None, "b")])  # costs 10: 5 points left

    with pytest.raises(ChannelThrottled, match="Throttled") as throttled:
        adapter.push_levels([push(ref, 7, None, "c")])

    assert throttled.value.retry_after == pytest.approx(0.5, abs=0.15)
    assert control.stats()["stores"][store["store"]]["rate_limit_violations"] == 1
    assert control.levels(store["store"]) == {"TEE-S": 8}


def test_a_wrong_location_needs_the_merchant(control):
    store = control.create_store(
        "shopify", "pinned", levels={"TEE-S": 3}, location_id="111", rate_limit=False
    )
    with adapter_for(
        "shopify",
        base_url=store["base_url"],
        credentials=store["channel"]["credentials"],
        settings={**store["channel"]["settings"], "location_id": "222"},
    ) as adapter:
        # No location on the listing: the channel's configured (wrong) one is used.
        ref = ListingRef(sku="TEE-S", external_id=store["listings"]["TEE-S"]["external_id"])
        with pytest.raises(ChannelNeedsAction) as needs:
            adapter.push_levels([push(ref, 1, None)])

    assert "INVALID_LOCATION" in str(needs.value)
    assert "Shopify has no location 222" in needs.value.action
    assert control.levels("pinned") == {"TEE-S": 3}
