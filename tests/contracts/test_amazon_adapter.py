"""The Amazon adapter against Amazon's own documents (see amazon/SOURCES.md), served over
real HTTP by a local server: Login with Amazon, getListingsItem, searchListingsItems,
patchListingsItem and a JSON_LISTINGS_FEED cycle."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from channels.adapters import LevelPush, ListingRef, adapter_for
from channels.adapters.amazon import FORBIDDEN_ACTION, LWA_ACTIONS
from channels.adapters.base import ChannelNeedsAction

from .amazon_server import Answer, FixtureServer, fixture_server
from .support import document

SELLER = "A3TH9S8BH6GOGM"
ITEMS = f"/listings/2021-08-01/items/{SELLER}"
SKU = "LUGGAGE-CARRYON-BLK"
TOKEN = "/auth/o2/token"


@pytest.fixture
def amazon() -> Iterator[FixtureServer]:
    with fixture_server() as server:
        server.fixture("POST", TOKEN, "lwa_token.json")
        yield server


def adapter(server: FixtureServer, **settings: Any):
    return adapter_for(
        "amazon",
        base_url=server.url,
        credentials={
            "lwa_app_id": "amzn1.application-oa2-client.contract",
            "lwa_client_secret": "contract-secret",
            # One refresh token per server: the SDK caches tokens by refresh token and URL.
            "refresh_token": f"Atzr|contract-{server.url}",
        },
        settings={"seller_id": SELLER, "marketplace_id": "ATVPDKIKX0DER", **settings},
        timeout=5,
    )


def push(sku: str, quantity: int, product_type: str = "") -> LevelPush:
    return LevelPush(ListingRef(sku=sku, external_parent_id=product_type), quantity, None, sku)


def merge(quantity: int) -> dict[str, Any]:
    return {
        "op": "merge",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }


# -- reads --------------------------------------------------------------------------------


def test_get_listings_item_gives_the_level_the_asin_and_the_product_type(amazon):
    amazon.fixture("GET", f"{ITEMS}/", "get_listings_item.json")

    with adapter(amazon) as hub:
        levels = hub.read_levels([ListingRef(sku=SKU)])
        found = hub.find_listings([SKU])

    assert levels == {SKU: 12}
    assert found == {
        SKU: ListingRef(sku=SKU, external_id="B07X4QZ1M8", external_parent_id="LUGGAGE")
    }


# -- patchListingsItem --------------------------------------------------------------------


def test_a_push_reads_the_product_type_then_merges_the_quantity(amazon):
    amazon.fixture("GET", f"{ITEMS}/", "get_listings_item.json")
    amazon.fixture("PATCH", f"{ITEMS}/", "patch_listings_item_accepted.json")

    with adapter(amazon, product_type="PRODUCT") as hub:
        [outcome] = hub.push_levels([push(SKU, 5)])

    assert outcome.status == "accepted"
    assert (outcome.ref.external_id, outcome.ref.external_parent_id) == ("B07X4QZ1M8", "LUGGAGE")
    [read] = amazon.requests("GET", ITEMS)
    assert "includedData=summaries" in read.query
    [sent] = amazon.requests("PATCH", ITEMS)
    assert sent.json() == {"productType": "LUGGAGE", "patches": [merge(5)]}
    assert "marketplaceIds=ATVPDKIKX0DER" in sent.query
    assert (
        sent.headers["x-amz-access-token"] == document("amazon", "lwa_token.json")["access_token"]
    )


def test_an_invalid_answer_fails_the_sku_with_amazons_issue(amazon):
    amazon.fixture("PATCH", f"{ITEMS}/", "patch_listings_item_invalid.json")

    with adapter(amazon) as hub:
        [outcome] = hub.push_levels([push(SKU, 5, "LUGGAGE")])

    assert outcome.status == "failed"
    assert outcome.error.startswith(f"amazon: SKU '{SKU}' (product type LUGGAGE): INVALID: 90220")


def test_a_refused_product_type_fails_the_sku_naming_it(amazon):
    amazon.fixture("PATCH", f"{ITEMS}/", "patch_listings_item_invalid_product_type.json")

    with adapter(amazon) as hub:
        [outcome] = hub.push_levels([push(SKU, 5, "SHIRT")])

    assert outcome.status == "failed"
    assert SKU in outcome.error and "SHIRT" in outcome.error and "4000003" in outcome.error


def test_a_mixed_catalogue_found_by_search_is_patched_with_each_product_type(amazon):
    amazon.fixture("GET", ITEMS, "search_listings_items.json")
    amazon.fixture("PATCH", f"{ITEMS}/", "patch_listings_item_accepted.json")

    with adapter(amazon, search_threshold=1) as hub:
        outcomes = hub.push_levels([push("SHIRT-M-BLUE", 3), push("MUG-BLUE", 8)])

    assert [o.status for o in outcomes] == ["accepted", "accepted"]
    sent = {s.path.rsplit("/", 1)[1]: s.json() for s in amazon.requests("PATCH", ITEMS)}
    assert sent == {
        "SHIRT-M-BLUE": {"productType": "SHIRT", "patches": [merge(3)]},
        "MUG-BLUE": {"productType": "DRINKING_CUP", "patches": [merge(8)]},
    }


# -- what the merchant must fix -----------------------------------------------------------


def test_a_revoked_refresh_token_needs_the_merchant(amazon):
    amazon.fixture("POST", TOKEN, "lwa_invalid_grant.json", status=400)

    with adapter(amazon) as hub, pytest.raises(ChannelNeedsAction) as refused:
        hub.push_levels([push(SKU, 5, "LUGGAGE")])

    assert refused.value.action == LWA_ACTIONS["invalid_grant"]
    assert "invalid_grant" in str(refused.value)
    assert amazon.requests("PATCH") == []


def test_a_token_endpoint_answer_that_is_no_oauth_error_is_refused(amazon):
    amazon.answer("POST", TOKEN, Answer(400, b"<html>Bad Request</html>", "text/html"))

    with adapter(amazon) as hub, pytest.raises(Exception) as refused:
        hub.push_levels([push(SKU, 5, "LUGGAGE")])

    assert type(refused.value).__name__ == "ChannelRejected"
    assert "answered 400" in str(refused.value)


def test_a_403_needs_the_merchant(amazon):
    amazon.fixture("PATCH", f"{ITEMS}/", "error_403_unauthorized.json", status=403)

    with adapter(amazon) as hub, pytest.raises(ChannelNeedsAction) as refused:
        hub.push_levels([push(SKU, 5, "LUGGAGE")])

    assert refused.value.action == FORBIDDEN_ACTION
    assert "Unauthorized" in str(refused.value)


def test_a_403_on_the_first_patch_needs_the_merchant_even_beside_an_unlisted_sku(amazon):
    # No fixture for NOT-LISTED: the server answers 404, Amazon's "not found".
    amazon.fixture("PATCH", f"{ITEMS}/", "error_403_unauthorized.json", status=403)

    with adapter(amazon) as hub, pytest.raises(ChannelNeedsAction):
        hub.push_levels([push("NOT-LISTED", 1), push(SKU, 5, "LUGGAGE")])

    assert [s.path.rsplit("/", 1)[1] for s in amazon.requests("GET", ITEMS)] == ["NOT-LISTED"]


# -- JSON_LISTINGS_FEED -------------------------------------------------------------------


def test_a_feed_cycle_reads_the_processing_report(amazon):
    created = document("amazon", "create_feed_document.json")
    report_at = document("amazon", "get_feed_document.json")
    done = document("amazon", "get_feed_done.json")
    amazon.answer(
        "POST",
        "/feeds/2021-06-30/documents",
        Answer(201, json.dumps({**created, "url": amazon.local(created["url"])}).encode()),
    )
    amazon.answer("PUT", "/contract-fixture-upload", Answer(200, b""))
    amazon.fixture("POST", "/feeds/2021-06-30/feeds", "create_feed.json", status=202)
    amazon.fixture("GET", f"/feeds/2021-06-30/feeds/{done['feedId']}", "get_feed_done.json")
    amazon.answer(
        "GET",
        f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}",
        Answer(200, json.dumps({**report_at, "url": amazon.local(report_at["url"])}).encode()),
    )
    amazon.fixture("GET", "/contract-fixture-report", "feed_processing_report.json")
    pushes = [
        push(SKU, 4, "LUGGAGE"),
        push("MUG-BLUE", 10, "DRINKING_CUP"),
        push("BEANIE-CHAR", 2, "HAT"),
    ]

    with adapter(amazon, feed_threshold=1, feed_poll_seconds=0.5) as hub:
        outcomes = hub.push_levels(pushes)

    assert [o.status for o in outcomes] == ["accepted", "failed", "accepted"]
    assert "4000003" in outcomes[1].error and "MUG-BLUE" in outcomes[1].error
    # The document uploaded has the documented shape: message 2 is the fixture's message.
    [upload] = amazon.requests("PUT", "/contract-fixture-upload")
    uploaded = upload.json()
    documented = document("amazon", "feed_document.json")
    assert uploaded["header"] == documented["header"] | {"sellerId": SELLER}
    assert uploaded["messages"][1] == documented["messages"][0] | {"messageId": 2}
    [create] = amazon.requests("POST", "/feeds/2021-06-30/feeds")
    assert create.json() == {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": ["ATVPDKIKX0DER"],
        "inputFeedDocumentId": created["feedDocumentId"],
    }
