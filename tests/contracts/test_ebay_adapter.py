"""eBay's documented answers (tests/contracts/ebay/) replayed against the adapter over
loopback HTTP: the refresh-token grant, getOffers (published, unpublished, an invalid
SKU), bulkUpdatePriceQuantity with per-SKU errors, bulkGetInventoryItem and getOrder."""

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from channels.adapters import LevelPush, ListingRef, adapter_for
from channels.adapters.base import ChannelNeedsAction
from channels.adapters.ebay import REVOKED_ACTION, EbayAdapter
from channels.webhooks.events import OrderLine

from .ebay_server import ORDER_ID, EbayDocuments
from .support import document

CREDENTIALS = {
    "client_id": "HubTest-Inventor-PRD-0a1b2c3d4-5e6f7a8b",
    "client_secret": "PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b",
    "refresh_token": "v^1.1#i^1#r^1#f^0#I^3#p^3#t^Ul4xMF8yOjQ2",
}


@pytest.fixture
def ebay() -> Iterator[EbayDocuments]:
    with EbayDocuments() as server:
        yield server


@pytest.fixture
def adapter(ebay: EbayDocuments) -> Iterator[EbayAdapter]:
    with adapter_for("ebay", base_url=ebay.url, credentials=CREDENTIALS, settings={}) as made:
        assert isinstance(made, EbayAdapter)
        yield made


def test_the_first_call_mints_an_access_token_with_the_refresh_token(adapter, ebay):
    adapter.read_levels([ListingRef(sku="MUG-BLUE")])

    grant, read = ebay.requests
    assert grant["path"] == "/identity/v1/oauth2/token"
    pair = base64.b64decode(grant["headers"]["authorization"].removeprefix("Basic ")).decode()
    assert pair == f"{CREDENTIALS['client_id']}:{CREDENTIALS['client_secret']}"
    assert grant["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant["body"].decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [CREDENTIALS["refresh_token"]],
    }
    token = document("ebay", "oauth_refresh_token_success.json")["access_token"]
    assert read["headers"]["authorization"] == f"Bearer {token}"


def test_invalid_grant_asks_the_merchant_to_reconnect(adapter, ebay):
    ebay.refresh_answer = (400, "oauth_refresh_token_invalid_grant.json")

    with pytest.raises(ChannelNeedsAction) as refused:
        adapter.read_levels([ListingRef(sku="MUG-BLUE")])

    assert refused.value.action == REVOKED_ACTION
    assert "refresh token is invalid" in str(refused.value)
    assert [r["path"] for r in ebay.requests] == ["/identity/v1/oauth2/token"]


def test_a_push_sends_published_offers_only_and_reads_each_sku_answer(adapter, ebay):
    invalid = "MUG BLUE (old)"
    pushes = [
        LevelPush(ListingRef(sku="MUG-BLUE"), 5, None, "a"),
        LevelPush(ListingRef(sku="TEE-S"), 4, None, "b"),
        LevelPush(ListingRef(sku=invalid), 3, None, "c"),
        LevelPush(ListingRef(sku="CAP-RED", external_id="5005317033"), 2, None, "d"),
        LevelPush(ListingRef(sku="BAG-GRN", external_id="5005317044"), 1, None, "e"),
    ]

    outcomes = adapter.push_levels(pushes)

    assert [(o.ref.sku, o.status) for o in outcomes] == [
        ("MUG-BLUE", "accepted"),
        ("TEE-S", "accepted"),
        (invalid, "failed"),
        ("CAP-RED", "failed"),
        ("BAG-GRN", "retry"),
    ]
    assert "400" in outcomes[2].error and "25707" in outcomes[2].error
    assert "This Offer is not available" in outcomes[3].error
    assert outcomes[0].ref.external_id == "5005317010"
    [update] = [r for r in ebay.requests if r["path"].endswith("bulk_update_price_quantity")]
    sent = {request["sku"]: request for request in json.loads(update["body"])["requests"]}
    assert sent["MUG-BLUE"]["offers"] == [{"offerId": "5005317010", "availableQuantity": 5}]
    assert "offers" not in sent["TEE-S"]  # unpublished: the item's quantity alone
    assert sent["TEE-S"]["shipToLocationAvailability"] == {"quantity": 4}
    assert invalid not in sent


def test_a_bulk_read_gives_each_sku_its_quantity_or_none(adapter):
    assert adapter.read_levels([ListingRef(sku="MUG-BLUE"), ListingRef(sku="NOT-LISTED")]) == {
        "MUG-BLUE": 7,
        "NOT-LISTED": None,
    }


def test_get_order_gives_the_lines_with_a_sku(adapter):
    assert adapter.fetch_order(ORDER_ID) == [
        OrderLine(sku="MUG-BLUE", quantity=2, line_ref="10083412507015"),
        OrderLine(sku="TEE-S", quantity=1, line_ref="10083412509015"),
    ]
