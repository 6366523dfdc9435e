"""Shopify lets several variants carry one SKU: the lookup pages through every item the
search answers, so a shared SKU never pushes another one off the page, and a SKU on
several inventory items is not mapped by guess (docs/decisions.md, 44)."""

from channels.adapters import LevelPush, ListingRef


def test_every_wanted_sku_is_found_behind_a_shared_one(store_with_adapter):
    _, adapter = store_with_adapter(
        "shopify", {"TEE-S": 1, "MUG": 2, "CAP": 3}, shared_skus={"TEE-S": 3}
    )

    found = adapter.find_listings(["TEE-S", "MUG", "CAP"])

    # One page of three items held only TEE-S's four; MUG and CAP came on later pages.
    assert set(found) == {"MUG", "CAP"}
    assert adapter.ambiguous["TEE-S"] and len(adapter.ambiguous["TEE-S"]) == 4


def test_a_push_to_a_shared_sku_fails_naming_the_items(store_with_adapter, control):
    store, adapter = store_with_adapter("shopify", {"TEE-S": 1, "MUG": 2}, shared_skus={"TEE-S": 1})

    outcomes = adapter.push_levels(
        [
            LevelPush(ref=ListingRef(sku="TEE-S"), quantity=5, expected=None, key="a"),
            LevelPush(ref=ListingRef(sku="MUG"), quantity=6, expected=None, key="b"),
        ]
    )

    assert [o.status for o in outcomes] == ["failed", "accepted"]
    assert "is on 2 inventory items" in outcomes[0].error
    assert "map the listing to one of them by hand" in outcomes[0].error
    assert control.levels(store["store"]) == {"TEE-S": 1, "MUG": 6}
