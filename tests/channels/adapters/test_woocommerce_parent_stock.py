"""A variation whose stock its parent manages (WooCommerce answers "manage_stock":
"parent"): the hub pushes the parent product's stock, never manage_stock true to the
variation, which would move stock management off the parent."""

import httpx

from channels.adapters import LevelPush

from .support import mapped_refs, statuses

LEVELS = {"TEE": 12, "TEE-S": 0, "TEE-M": 0, "MUG-RED": 4}
VARIATIONS = {"TEE-S": "TEE", "TEE-M": "TEE", "MUG-RED": "MUG"}


def store(store_with_adapter):
    return store_with_adapter(
        "woocommerce", LEVELS, variations=VARIATIONS, parent_managed=["TEE-S", "TEE-M"]
    )


def variation(control, shop, sku):
    """The variation as the store's REST API shows it."""
    credentials = shop["channel"]["credentials"]
    answer = httpx.get(
        f"{shop['base_url']}/wp-json/wc/v3/products",
        params={"sku": sku},
        auth=(credentials["consumer_key"], credentials["consumer_secret"]),
    )
    [product] = [p for p in answer.json() if p["sku"] == sku]
    return product


def test_a_parent_managed_variation_is_pushed_to_its_parent(store_with_adapter, control):
    shop, adapter = store(store_with_adapter)
    refs = mapped_refs(shop)

    outcomes = adapter.push_levels(
        [
            LevelPush(ref=refs["TEE-S"], quantity=9, expected=None, key="a"),
            LevelPush(ref=refs["MUG-RED"], quantity=3, expected=None, key="b"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "accepted", "MUG-RED": "accepted"}
    # The parent's stock moved; the variation still follows its parent.
    assert control.levels(shop["store"])["TEE"] == 9
    assert variation(control, shop, "TEE-S")["manage_stock"] == "parent"
    assert control.levels(shop["store"])["MUG-RED"] == 3
    # Read back through the variation: Woo shows the parent's number.
    assert adapter.read_levels([refs["TEE-S"]]) == {"TEE-S": 9}
    writes = [e["path"] for e in control.log(shop["store"]) if e["operation"] == "write"]
    parent = refs["TEE-S"].external_parent_id
    assert f"/wp-json/wc/v3/products/{parent}/variations/batch" not in writes


def test_two_variations_of_one_parent_asking_different_numbers_fail(store_with_adapter, control):
    shop, adapter = store(store_with_adapter)
    refs = mapped_refs(shop)

    outcomes = adapter.push_levels(
        [
            LevelPush(ref=refs["TEE-S"], quantity=9, expected=None, key="a"),
            LevelPush(ref=refs["TEE-M"], quantity=4, expected=None, key="b"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "failed", "TEE-M": "failed"}
    assert "share the stock of parent product" in outcomes[0].error
    assert control.levels(shop["store"])["TEE"] == 12


def test_the_simulator_switches_management_like_woocommerce(store_with_adapter, control):
    """What the adapter avoids: manage_stock true on the variation moves management."""
    shop, _ = store(store_with_adapter)
    refs = mapped_refs(shop)
    parent = refs["TEE-S"].external_parent_id
    credentials = shop["channel"]["credentials"]

    httpx.post(
        f"{shop['base_url']}/wp-json/wc/v3/products/{parent}/variations/batch",
        json={
            "update": [
                {"id": int(refs["TEE-S"].external_id), "manage_stock": True, "stock_quantity": 2}
            ]
        },
        auth=(credentials["consumer_key"], credentials["consumer_secret"]),
    ).raise_for_status()

    switched = variation(control, shop, "TEE-S")
    assert (switched["manage_stock"], switched["stock_quantity"]) == (True, 2)
    assert control.levels(shop["store"])["TEE"] == 12
