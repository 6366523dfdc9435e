"""eBay specifics: quantity set on the inventory item and on every offer."""

from channels.adapters import LevelPush, ListingRef

from .support import mapped_refs, statuses


def test_a_push_moves_both_the_item_and_its_offer(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})
    ref = mapped_refs(store)["TEE-S"]

    [outcome] = adapter.push_levels([LevelPush(ref, 9, None, "k")])

    # The buyer sees the smaller of item and offer: 9 only if both moved.
    assert outcome.status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 9}


def test_offers_are_looked_up_when_the_hub_does_not_know_them(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})

    [outcome] = adapter.push_levels([LevelPush(ListingRef(sku="TEE-S"), 8, None, "k")])

    assert outcome.status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 8}


def test_an_unknown_sku_fails_alone(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})
    refs = mapped_refs(store)

    outcomes = adapter.push_levels(
        [
            LevelPush(refs["TEE-S"], 2, None, "a"),
            LevelPush(ListingRef(sku="NOT-LISTED", external_id="123"), 2, None, "b"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "accepted", "NOT-LISTED": "failed"}
    assert "404" in outcomes[1].error
    assert control.levels(store["store"]) == {"TEE-S": 2}
