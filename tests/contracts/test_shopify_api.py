"""Shopify's Admin GraphQL answers (tests/contracts/shopify/SOURCES.md) through the
adapter's response handling. The internet is the one thing replaced: an httpx mock
transport answers each request with the channel's document."""

import json

import httpx
import pytest

from channels.adapters import LevelPush, ListingRef, adapter_for
from channels.adapters.base import ChannelNeedsAction
from tests.contracts.support import document

REF = ListingRef(sku="MUG-BLUE", external_id="46200000000101", external_location_id="24826418")


class Shop:
    """Answers each GraphQL request with the next document; remembers the requests."""

    def __init__(self, *names: str) -> None:
        self.answers = [document("shopify", name) for name in names]
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        return httpx.Response(200, json=self.answers.pop(0))

    def adapter(self):
        return adapter_for(
            "shopify",
            base_url="https://contract.myshopify.com",
            credentials={"access_token": "shpat_contract"},
            settings={"location_id": "24826418"},
            client=httpx.Client(transport=httpx.MockTransport(self)),
        )


def push(quantity=14, expected=None):
    return LevelPush(ref=REF, quantity=quantity, expected=expected, key="outbox-1")


def test_a_success_is_accepted():
    shop = Shop("api_inventory_set_quantities_success.json")
    [outcome] = shop.adapter().push_levels([push()])
    assert outcome.status == "accepted"


def test_a_stale_change_from_quantity_is_stale_with_the_shops_number():
    shop = Shop("api_inventory_set_quantities_stale.json", "api_inventory_level_read.json")
    [outcome] = shop.adapter().push_levels([push(expected=17)])
    assert (outcome.status, outcome.channel_quantity) == ("stale", 14)


def test_a_request_in_progress_is_a_retry():
    shop = Shop("api_inventory_set_quantities_concurrent.json")
    [outcome] = shop.adapter().push_levels([push()])
    assert outcome.status == "retry"
    assert "IDEMPOTENCY_CONCURRENT_REQUEST" in outcome.error


def test_a_failed_previous_attempt_is_resent_under_a_fresh_key():
    shop = Shop(
        "api_inventory_set_quantities_previous_attempt_failed.json",
        "api_inventory_set_quantities_success.json",
    )
    [outcome] = shop.adapter().push_levels([push()])
    assert outcome.status == "accepted"
    first, second = (request["query"] for request in shop.requests)
    assert "@idempotent" in first and "@idempotent" in second
    assert first != second  # another key, same entries
    # The entries are the same; only the key changed.
    assert (
        shop.requests[0]["variables"]["input"]["quantities"]
        == (shop.requests[1]["variables"]["input"]["quantities"])
    )


def test_an_unknown_location_pauses_the_channel_naming_the_location():
    # No entry for a location the shop does not have can work: the merchant must pick
    # another, so the drainer pauses the channel instead of dead-lettering each entry.
    shop = Shop("api_inventory_set_quantities_invalid_location.json")
    with pytest.raises(ChannelNeedsAction) as needs:
        shop.adapter().push_levels([push()])
    assert "INVALID_LOCATION" in str(needs.value)
    assert "no location 24826418" in needs.value.action
    assert len(shop.requests) == 1  # not retried under another key


def test_a_missing_scope_asks_the_merchant_to_grant_it():
    shop = Shop("api_access_denied.json")
    with pytest.raises(ChannelNeedsAction) as needs:
        shop.adapter().push_levels([push()])
    assert "write_inventory" in needs.value.action


def test_the_lookup_reads_every_page_and_leaves_a_shared_sku_unmapped():
    shop = Shop("api_inventory_items_page1.json", "api_inventory_items_page2.json")
    adapter = shop.adapter()

    found = adapter.find_listings(["MUG-BLUE", "TEA-TOWEL"])

    assert set(found) == {"TEA-TOWEL"}
    assert found["TEA-TOWEL"].external_id == "46200000000103"
    assert adapter.ambiguous["MUG-BLUE"] == ["46200000000101", "46200000000102"]
    assert shop.requests[1]["variables"]["after"] == "eyJsYXN0X2lkIjo0NjIwMDAwMDAwMDEwMn0="


def test_a_level_read_gives_the_available_quantity_and_none_for_unknown_items():
    shop = Shop("api_inventory_level_read.json")
    other = ListingRef(sku="GONE", external_id="46200000000999", external_location_id="24826418")
    assert shop.adapter().read_levels([REF, other]) == {"MUG-BLUE": 14, "GONE": None}


def test_a_missing_scope_after_a_failed_entry_still_pauses_the_channel():
    # MUG-BLUE (unmapped) is on two items and fails on its own; the write for TEA-TOWEL
    # then meets ACCESS_DENIED, which no entry can get past: the whole push raises rather
    # than failing TEA-TOWEL into the DLQ.
    shop = Shop(
        "api_inventory_items_page1.json",
        "api_inventory_items_page2.json",
        "api_access_denied.json",
    )
    towel = ListingRef(sku="TEA-TOWEL", external_id="46200000000103")
    pushes = [
        LevelPush(ref=ListingRef(sku="MUG-BLUE"), quantity=3, expected=None, key="outbox-1"),
        LevelPush(ref=towel, quantity=5, expected=None, key="outbox-2"),
    ]
    with pytest.raises(ChannelNeedsAction):
        shop.adapter().push_levels(pushes)
    assert len(shop.requests) == 3
