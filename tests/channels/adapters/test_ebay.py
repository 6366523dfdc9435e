"""eBay specifics: quantity set on the inventory item and on every offer."""

from typing import Any

import httpx
import pytest

from channels.adapters import (
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    adapter_for,
)
from channels.adapters.ebay import EbayAdapter

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


def test_read_back_asks_for_25_skus_per_request(store_with_adapter, control):
    levels = {f"SKU-{n:03d}": n for n in range(60)}
    store, adapter = store_with_adapter("ebay", levels)
    refs = list(mapped_refs(store).values())
    control.reset_stats()

    shown = adapter.read_levels(refs)

    assert shown == levels
    stats = control.stats()["stores"][store["store"]]
    assert (stats["requests"], stats["reads"]) == (3, 3)
    assert [entry["items"] for entry in control.log(store["store"])] == [25, 25, 10]


def test_read_back_takes_one_throttle_token_per_request(store_with_adapter):
    store, _ = store_with_adapter("ebay", {f"SKU-{n:03d}": 1 for n in range(60)})
    tokens: list[float] = []
    channel = store["channel"]
    with adapter_for(
        "ebay",
        base_url=store["base_url"],
        credentials=channel["credentials"],
        settings=channel["settings"],
        # The hook may be passed the request's cost (1 for eBay) or nothing.
        throttle=lambda cost=1.0: tokens.append(cost),
    ) as adapter:
        adapter.read_levels(list(mapped_refs(store).values()))

    assert tokens == [1.0, 1.0, 1.0]


def test_unknown_skus_read_as_none_in_every_chunk(store_with_adapter, control):
    levels = {f"SKU-{n:03d}": n for n in range(30)}
    store, adapter = store_with_adapter("ebay", levels)
    unknown = [ListingRef(sku=f"GONE-{n}") for n in range(3)]
    refs = [unknown[0], *mapped_refs(store).values(), *unknown[1:]]
    control.reset_stats()

    shown = adapter.read_levels(refs)

    assert shown == {**levels, **dict.fromkeys((ref.sku for ref in unknown), None)}
    assert control.stats()["stores"][store["store"]]["requests"] == 2


def test_a_read_of_nothing_sends_nothing(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})
    control.reset_stats()

    assert adapter.read_levels([]) == {}
    assert control.stats()["stores"][store["store"]]["requests"] == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_on_the_bulk_read_raises_unavailable(status, store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})
    control.set_faults(store["store"], error_rate=1, status=status)

    with pytest.raises(ChannelUnavailable) as failure:
        adapter.read_levels(list(mapped_refs(store).values()))

    assert failure.value.status_code == status
    assert "bulk_get_inventory_item" in str(failure.value)


def test_a_fault_on_a_later_chunk_fails_the_whole_read(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {f"SKU-{n:03d}": 1 for n in range(30)})
    refs = list(mapped_refs(store).values())
    adapter.read_levels(refs[:25])
    control.set_faults(store["store"], error_rate=1, status=429, retry_after=1.5)

    with pytest.raises(ChannelThrottled) as failure:
        adapter.read_levels(refs)

    assert failure.value.retry_after == pytest.approx(1.5)


def _adapter_answering(answer: dict[str, Any]) -> EbayAdapter:
    """An adapter whose channel answers every bulk read with ``answer`` (207).

    The simulator has no way to fail one SKU of a bulk read, so this is the one place
    the adapter talks to a canned transport.
    """

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(207, json=answer)

    return EbayAdapter(
        base_url="https://api.ebay.test",
        credentials={"access_token": "token"},
        settings={},
        client=httpx.Client(transport=httpx.MockTransport(respond)),
    )


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_sku_a_bulk_read_cannot_answer_reads_as_unknown_alone(status):
    answer = {
        "responses": [
            {
                "statusCode": 200,
                "sku": "A",
                "inventoryItem": {"availability": {"shipToLocationAvailability": {"quantity": 4}}},
            },
            {"statusCode": status, "sku": "B", "errors": [{"errorId": 1, "message": "nope"}]},
        ]
    }
    with _adapter_answering(answer) as adapter:
        assert adapter.read_levels([ListingRef(sku="A"), ListingRef(sku="B")]) == {
            "A": 4,
            "B": None,
        }


def test_a_throttled_sku_in_a_bulk_read_throttles_the_read():
    answer = {
        "responses": [
            {"statusCode": 200, "sku": "A", "inventoryItem": {}},
            {"statusCode": 429, "sku": "B", "errors": [{"errorId": 1, "message": "nope"}]},
        ]
    }
    with _adapter_answering(answer) as adapter, pytest.raises(ChannelThrottled) as failure:
        adapter.read_levels([ListingRef(sku="A"), ListingRef(sku="B")])
    assert failure.value.status_code == 429 and "nope" in str(failure.value)


def test_a_sku_missing_from_the_bulk_read_answer_is_unavailable():
    answer = {"responses": [{"statusCode": 200, "sku": "A", "inventoryItem": {}}]}
    with _adapter_answering(answer) as adapter, pytest.raises(ChannelUnavailable):
        adapter.read_levels([ListingRef(sku="A"), ListingRef(sku="B")])
