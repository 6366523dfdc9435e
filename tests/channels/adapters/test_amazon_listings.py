"""Amazon listings as Amazon keeps them, over real HTTP to the simulator: the
fulfillment_availability attribute (a replace wipes what it leaves out, a merge does not),
one product type per listing, and what only the merchant can fix (LWA, 403)."""

from typing import Any

import httpx
import pytest

from channels.adapters import LevelPush, ListingRef, adapter_for
from channels.adapters.amazon import LWA_ACTIONS
from channels.adapters.base import ChannelNeedsAction
from channels.models import Listing
from channels.propagation.drain import outbox_drain_channel
from channels.services import channel_create, listing_map
from ledger.services import sku_create, stock_receive

from .support import statuses

AVAILABILITY = "/attributes/fulfillment_availability"
# What the seller set in Seller Central besides the quantity: a handling time and a
# restock date on the DEFAULT entry, and the stock of another fulfilment channel code.
SELLER_SET = [
    {
        "fulfillment_channel_code": "DEFAULT",
        "quantity": 5,
        "lead_time_to_ship_max_days": 3,
        "restock_date": "2026-12-20",
    },
    {"fulfillment_channel_code": "SUPPLY-2", "quantity": 7},
]


def listings(store: dict[str, Any], **attributes: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.put(f"{store['base_url']}/_simulator/listings", json=attributes)
    answer.raise_for_status()
    return answer.json()


def shown(store: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.get(f"{store['base_url']}/_simulator/listings")
    answer.raise_for_status()
    return answer.json()


def patch(store: dict[str, Any], sku: str, body: dict[str, Any]) -> dict[str, Any]:
    """patchListingsItem as any client sends it (the simulator takes any LWA-shaped token)."""
    settings = store["channel"]["settings"]
    answer = httpx.patch(
        f"{store['base_url']}/listings/2021-08-01/items/{settings['seller_id']}/{sku}",
        params={"marketplaceIds": settings["marketplace_id"]},
        headers={"x-amz-access-token": "Atza|test"},
        json=body,
    )
    answer.raise_for_status()
    return answer.json()


def availability_patch(op: str, quantity: int) -> dict[str, Any]:
    return {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": op,
                "path": AVAILABILITY,
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


def push(sku: str, quantity: int, product_type: str = "") -> LevelPush:
    return LevelPush(ListingRef(sku=sku, external_parent_id=product_type), quantity, None, sku)


# -- the simulator behaves like Amazon ------------------------------------------------------


def test_a_replace_wipes_what_it_leaves_out(store_with_adapter):
    store, _ = store_with_adapter("amazon", {"MUG": 5})
    listings(store, MUG={"fulfillment_availability": SELLER_SET})

    answer = patch(store, "MUG", availability_patch("replace", 2))

    assert answer["status"] == "ACCEPTED"
    assert shown(store)["MUG"]["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 2}
    ]


def test_a_merge_changes_the_quantity_and_keeps_the_rest(store_with_adapter):
    store, _ = store_with_adapter("amazon", {"MUG": 5})
    listings(store, MUG={"fulfillment_availability": SELLER_SET})

    answer = patch(store, "MUG", availability_patch("merge", 2))

    assert answer["status"] == "ACCEPTED"
    assert shown(store)["MUG"]["fulfillment_availability"] == [
        {**SELLER_SET[0], "quantity": 2},
        SELLER_SET[1],
    ]


def test_a_merge_without_a_channel_code_is_refused_and_changes_nothing(store_with_adapter):
    store, _ = store_with_adapter("amazon", {"MUG": 5})
    body = availability_patch("merge", 2)
    body["patches"][0]["value"] = [{"quantity": 2}]

    answer = patch(store, "MUG", body)

    assert answer["status"] == "INVALID"
    assert "fulfillment_channel_code" in answer["issues"][0]["message"]
    assert shown(store)["MUG"]["fulfillment_availability"][0]["quantity"] == 5


def test_a_patch_naming_another_product_type_is_refused(store_with_adapter):
    store, _ = store_with_adapter("amazon", {"SHIRT-M": 5})
    listings(store, **{"SHIRT-M": {"productType": "SHIRT"}})

    answer = patch(store, "SHIRT-M", availability_patch("merge", 2))

    assert answer["status"] == "INVALID"
    assert [(i["code"], i["severity"]) for i in answer["issues"]] == [("4000003", "ERROR")]
    assert shown(store)["SHIRT-M"]["fulfillment_availability"][0]["quantity"] == 5


# -- the hub keeps what the seller set ----------------------------------------------------


@pytest.mark.parametrize("feed_threshold", [50, 1], ids=["patch", "feed"])
def test_the_hub_changes_the_quantity_and_keeps_lead_time_and_other_channels(
    store_with_adapter, control, feed_threshold
):
    store, _ = store_with_adapter("amazon", {"MUG": 5, "TEE": 1})
    listings(store, MUG={"fulfillment_availability": SELLER_SET})
    channel = store["channel"]
    with adapter_for(
        "amazon",
        base_url=store["base_url"],
        credentials=channel["credentials"],
        settings={**channel["settings"], "feed_threshold": feed_threshold},
    ) as adapter:
        outcomes = adapter.push_levels([push("MUG", 2), push("TEE", 4)])

    assert statuses(outcomes) == {"MUG": "accepted", "TEE": "accepted"}
    assert shown(store)["MUG"]["fulfillment_availability"] == [
        {**SELLER_SET[0], "quantity": 2},
        SELLER_SET[1],
    ]
    assert control.levels(store["store"]) == {"MUG": 2, "TEE": 4}


# -- one product type per listing ---------------------------------------------------------


def test_a_mixed_catalogue_is_pushed_with_each_listings_product_type(store_with_adapter, control):
    store, adapter = store_with_adapter("amazon", {"SHIRT-M": 1, "MUG": 1, "BAG": 1})
    listings(store, **{"SHIRT-M": {"productType": "SHIRT"}, "MUG": {"productType": "DRINKING_CUP"}})

    outcomes = adapter.push_levels([push("SHIRT-M", 6), push("MUG", 7), push("BAG", 8)])

    assert statuses(outcomes) == dict.fromkeys(["SHIRT-M", "MUG", "BAG"], "accepted")
    # The product type each listing showed rides back for the hub to keep.
    assert {o.ref.sku: o.ref.external_parent_id for o in outcomes} == {
        "SHIRT-M": "SHIRT",
        "MUG": "DRINKING_CUP",
        "BAG": "PRODUCT",
    }
    assert control.levels(store["store"]) == {"SHIRT-M": 6, "MUG": 7, "BAG": 8}


def test_a_kept_product_type_is_not_read_again(store_with_adapter, control):
    store, adapter = store_with_adapter("amazon", {"SHIRT-M": 1})
    listings(store, **{"SHIRT-M": {"productType": "SHIRT"}})

    [outcome] = adapter.push_levels([push("SHIRT-M", 3, product_type="SHIRT")])

    assert outcome.status == "accepted"
    calls = [e["method"] for e in control.log(store["store"]) if e["path"].startswith("/listings/")]
    assert calls == ["PATCH"]


def test_a_listing_without_a_product_type_uses_the_channels_if_set(store_with_adapter, control):
    store, adapter = store_with_adapter("amazon", {"NEW-1": 1})
    listings(store, **{"NEW-1": {"productType": None}})  # created minutes ago: no summary

    [outcome] = adapter.push_levels([push("NEW-1", 4)])

    assert outcome.status == "accepted"
    assert outcome.ref.external_parent_id == ""  # the channel's setting is not kept
    assert control.levels(store["store"]) == {"NEW-1": 4}


def test_a_listing_without_a_product_type_fails_naming_the_sku(store_with_adapter, control):
    store, _ = store_with_adapter("amazon", {"NEW-1": 1, "MUG": 1})
    listings(store, **{"NEW-1": {"productType": None}})
    channel = store["channel"]
    settings = {k: v for k, v in channel["settings"].items() if k != "product_type"}
    with adapter_for(
        "amazon", base_url=store["base_url"], credentials=channel["credentials"], settings=settings
    ) as adapter:
        outcomes = adapter.push_levels([push("NEW-1", 4), push("MUG", 2)])

    assert statuses(outcomes) == {"NEW-1": "failed", "MUG": "accepted"}
    assert "SKU 'NEW-1' has no product type on Amazon" in outcomes[0].error
    assert control.levels(store["store"]) == {"NEW-1": 1, "MUG": 2}


@pytest.mark.django_db
def test_the_drainer_keeps_the_product_type_on_a_listing_mapped_by_asin(control):
    store = control.create_store("amazon", "amz-mixed", levels={"SHIRT-M": 0}, rate_limit=False)
    listings(store, **{"SHIRT-M": {"productType": "SHIRT"}})
    config = store["channel"]
    channel = channel_create(
        slug="amz-mixed",
        kind="amazon",
        name="Amazon (mixed)",
        webhook_secret=store.get("webhook_secret") or "",
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"]},
    )
    sku = sku_create(code="SHIRT-M")
    asin = store["listings"]["SHIRT-M"]["external_id"]
    listing_map(channel=channel, sku=sku, external_id=asin)  # a CSV gave the ASIN only
    stock_receive(sku=sku, quantity=4)

    assert outbox_drain_channel(channel_id=channel.pk) == 1

    listing = Listing.objects.get(channel=channel, sku=sku)
    assert (listing.external_id, listing.external_parent_id, listing.state) == (
        asin,
        "SHIRT",
        "in_sync",
    )
    assert control.levels("amz-mixed") == {"SHIRT-M": 4}


# -- what only the merchant can fix -------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "code"),
    [("refresh_token", "invalid_grant"), ("lwa_client_secret", "invalid_client")],
)
def test_refused_lwa_credentials_need_the_merchant(control, wrong, code):
    credentials = {
        "lwa_app_id": "amzn1.application-oa2-client.pinned",
        "lwa_client_secret": "the-secret",
        "refresh_token": "Atzr|the-token",
    }
    store = control.create_store("amazon", "lwa", levels={"MUG": 1}, credentials=credentials)
    with (
        adapter_for(
            "amazon",
            base_url=store["base_url"],
            credentials={**credentials, wrong: "revoked"},
            settings=store["channel"]["settings"],
        ) as adapter,
        pytest.raises(ChannelNeedsAction) as refused,
    ):
        adapter.push_levels([push("MUG", 3, product_type="PRODUCT")])

    assert refused.value.action == LWA_ACTIONS[code]
    assert code in str(refused.value)
    assert control.levels("lwa") == {"MUG": 1}


def test_a_403_needs_the_merchant(control):
    store = control.create_store("amazon", "pinned", levels={"MUG": 1}, seller_id="A1SELLER")
    settings = {**store["channel"]["settings"], "seller_id": "A2OTHER"}
    with (
        adapter_for(
            "amazon",
            base_url=store["base_url"],
            credentials=store["channel"]["credentials"],
            settings=settings,
        ) as adapter,
        pytest.raises(ChannelNeedsAction) as refused,
    ):
        adapter.push_levels([push("MUG", 3, product_type="PRODUCT")])

    assert refused.value.status_code == 403
    assert "Product Listing role" in refused.value.action
    assert control.levels("pinned") == {"MUG": 1}
