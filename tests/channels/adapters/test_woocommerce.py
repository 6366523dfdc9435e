"""WooCommerce specifics: variations live under their parent product."""

from channels.adapters import LevelPush, ListingRef

from .support import mapped_refs, push_all, statuses

LEVELS = {"TEE-S": 5, "TEE-M": 7, "MUG": 2}
VARIATIONS = {"TEE-S": "TEE", "TEE-M": "TEE"}


def test_find_listings_reports_the_parent_of_variations(store_with_adapter):
    store, adapter = store_with_adapter("woocommerce", LEVELS, variations=VARIATIONS)

    found = adapter.find_listings(["TEE-S", "MUG"])

    parent = store["listings"]["TEE-S"]["external_parent_id"]
    assert parent
    assert found["TEE-S"].external_parent_id == parent
    assert found["MUG"].external_parent_id == ""


def test_variations_are_pushed_through_their_parents_batch(store_with_adapter, control):
    store, adapter = store_with_adapter("woocommerce", LEVELS, variations=VARIATIONS)
    refs = mapped_refs(store)

    outcomes = push_all(adapter, refs, {"TEE-S": 1, "TEE-M": 2, "MUG": 3})

    assert set(statuses(outcomes).values()) == {"accepted"}
    assert control.levels(store["store"]) == {"TEE-S": 1, "TEE-M": 2, "MUG": 3}
    parent = refs["TEE-S"].external_parent_id
    writes = {
        entry["path"]: entry["items"]
        for entry in control.log(store["store"])
        if entry["operation"] == "write"
    }
    assert writes == {
        "/wp-json/wc/v3/products/batch": 1,
        f"/wp-json/wc/v3/products/{parent}/variations/batch": 2,
    }


def test_a_variation_without_its_parent_fails_alone(store_with_adapter, control):
    store, adapter = store_with_adapter("woocommerce", LEVELS, variations=VARIATIONS)
    refs = mapped_refs(store)
    orphan = ListingRef(sku="TEE-S", external_id=refs["TEE-S"].external_id)

    outcomes = adapter.push_levels(
        [
            LevelPush(ref=orphan, quantity=0, expected=None, key="a"),
            LevelPush(ref=refs["MUG"], quantity=9, expected=None, key="b"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "failed", "MUG": "accepted"}
    assert "invalid_id" in outcomes[0].error
    assert control.levels(store["store"])["MUG"] == 9


def test_a_sku_containing_a_comma_is_read_on_its_own(store_with_adapter):
    _, adapter = store_with_adapter("woocommerce", {"PACK,2": 3, "PACK": 1, "MUG": 4})

    levels = adapter.read_levels([ListingRef(sku=s) for s in ["PACK,2", "PACK", "MUG"]])

    assert levels == {"PACK,2": 3, "PACK": 1, "MUG": 4}
