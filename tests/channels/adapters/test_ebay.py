"""eBay specifics: quantity set on the inventory item and on every offer."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from channels.adapters import (
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    adapter_for,
)
from channels.adapters.base import ChannelNeedsAction
from channels.adapters.ebay import REVOKED_ACTION, EbayAdapter
from channels.webhooks.events import OrderLine

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


# --- access tokens: renewed with the refresh token before they expire -----------------


def _token_calls(control, store) -> list[dict[str, Any]]:
    return [e for e in control.log(store["store"]) if "oauth2/token" in str(e.get("path"))]


def test_a_channel_with_a_refresh_token_mints_its_access_token(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=3600)
    assert "access_token" not in store["channel"]["credentials"]

    [outcome] = adapter.push_levels([LevelPush(ListingRef(sku="TEE-S"), 4, None, "k")])
    adapter.read_levels([outcome.ref])

    assert outcome.status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 4}
    # One grant serves every call while the token is good.
    assert len(_token_calls(control, store)) == 1
    assert adapter.credentials["access_token"].startswith("v^1.1#sim-user-")
    assert adapter.credentials["access_token_expires_at"]


def test_a_token_about_to_expire_is_renewed_before_the_call(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=3600)
    adapter.read_levels([ListingRef(sku="TEE-S")])
    first = adapter.credentials["access_token"]
    # Within the renewal margin (five minutes) of its expiry.
    adapter.credentials["access_token_expires_at"] = (
        datetime.now(UTC) + timedelta(minutes=2)
    ).isoformat()

    assert adapter.read_levels([ListingRef(sku="TEE-S")]) == {"TEE-S": 5}

    assert adapter.credentials["access_token"] != first
    assert len(_token_calls(control, store)) == 2


def test_an_expired_token_is_refused_by_ebay(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=1)
    token = adapter._access_token()
    time.sleep(1.2)

    answer = httpx.post(
        f"{store['base_url']}/sell/inventory/v1/bulk_get_inventory_item",
        json={"requests": [{"sku": "TEE-S"}]},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 401


def test_a_revoked_refresh_token_asks_the_merchant_to_reconnect(store_with_adapter):
    # The store knows only a newer refresh token: the hub's has been revoked.
    store, adapter = store_with_adapter(
        "ebay",
        {"TEE-S": 5},
        token_lifetime_seconds=3600,
        credentials={"refresh_token": "v^1.1#the-new-one"},
    )
    adapter.credentials["refresh_token"] = "v^1.1#revoked"

    with pytest.raises(ChannelNeedsAction) as refused:
        adapter.push_levels([LevelPush(ListingRef(sku="TEE-S"), 4, None, "k")])

    assert refused.value.action == REVOKED_ACTION
    assert "invalid_grant" in str(refused.value)
    assert refused.value.status_code == 400


def test_renewal_without_the_app_keys_names_what_is_missing(store_with_adapter):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=3600)
    del adapter.credentials["client_secret"]

    with pytest.raises(ChannelNeedsAction, match="client_id, client_secret and refresh_token"):
        adapter.read_levels([ListingRef(sku="TEE-S")])


def test_a_renewal_goes_through_the_credential_store(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=3600)
    kept: dict[str, Any] = dict(store["channel"]["credentials"])
    renewals: list[dict[str, Any]] = []

    class Store:
        def renew(self, change):
            changes = change(dict(kept))
            if changes:
                renewals.append(dict(changes))
                kept.update(changes)
            return dict(kept)

    adapter.credential_store = Store()
    adapter.read_levels([ListingRef(sku="TEE-S")])
    # Another process's adapter, started with the old credentials, finds the stored token.
    other = adapter_for(
        "ebay",
        base_url=store["base_url"],
        credentials=store["channel"]["credentials"],
        settings=store["channel"]["settings"],
        credential_store=Store(),
    )
    with other:
        other.read_levels([ListingRef(sku="TEE-S")])

    assert len(renewals) == 1
    assert other.credentials["access_token"] == kept["access_token"]
    assert len(_token_calls(control, store)) == 1


# --- offers: only published ones go to bulkUpdatePriceQuantity --------------------------


def test_an_unpublished_offer_is_left_out_and_the_item_quantity_still_moves(
    store_with_adapter, control
):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5, "MUG": 3}, unpublished_skus=["TEE-S"])

    outcomes = adapter.push_levels(
        [
            LevelPush(ListingRef(sku="TEE-S"), 2, None, "a"),
            LevelPush(ListingRef(sku="MUG"), 1, None, "b"),
        ]
    )

    assert statuses(outcomes) == {"TEE-S": "accepted", "MUG": "accepted"}
    # Looked up again next time: its offer may be published by then.
    assert outcomes[0].ref.external_id == ""
    assert outcomes[1].ref.external_id == mapped_refs(store)["MUG"].external_id
    [update] = [e for e in control.log(store["store"]) if "bulk_update" in str(e.get("path"))]
    assert update["items"] == 2
    assert adapter.read_levels([ListingRef(sku="TEE-S")]) == {"TEE-S": 2}
    assert adapter.find_listings(["TEE-S", "MUG"]).keys() == {"MUG"}


def test_ebay_refuses_an_unpublished_offer_in_a_bulk_update(store_with_adapter):
    # What the lookup avoids: an offer id kept from before the listing was unpublished.
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, unpublished_skus=["TEE-S"])

    [outcome] = adapter.push_levels([LevelPush(mapped_refs(store)["TEE-S"], 2, None, "k")])

    assert outcome.status == "failed"
    assert "unpublished" in outcome.error


def test_a_sku_ebay_calls_invalid_fails_alone(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5})
    too_long = "X" * 51

    outcomes = adapter.push_levels(
        [
            LevelPush(ListingRef(sku=too_long), 2, None, "a"),
            LevelPush(ListingRef(sku="TEE-S"), 3, None, "b"),
        ]
    )

    assert statuses(outcomes) == {too_long: "failed", "TEE-S": "accepted"}
    assert "400" in outcomes[0].error and "invalid value for a SKU" in outcomes[0].error
    assert control.levels(store["store"]) == {"TEE-S": 3}
    assert adapter.read_levels([ListingRef(sku=too_long)]) == {too_long: None}


# --- orders: getOrder gives the lines ORDER_CONFIRMATION does not carry -----------------


def test_fetch_order_reads_the_lines_of_an_order(store_with_adapter, control):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5, "MUG": 3})
    sold = control.place_order(
        store["store"], [{"sku": "TEE-S", "quantity": 2}, {"sku": "MUG", "quantity": 1}]
    )["orders"][0]

    lines = adapter.fetch_order(sold["order_id"])

    assert lines == [
        OrderLine(sku=line["sku"], quantity=line["quantity"], line_ref=line["line_id"])
        for line in sold["lines"]
    ]


def test_fetch_order_of_an_unknown_order_is_refused(store_with_adapter):
    _, adapter = store_with_adapter("ebay", {"TEE-S": 5})

    with pytest.raises(ChannelRejected, match="not found") as refused:
        adapter.fetch_order("00-00000-00000")

    assert refused.value.status_code == 404


def test_a_token_ebay_revoked_early_is_renewed_once_and_the_call_sent_again(
    store_with_adapter, control
):
    store, adapter = store_with_adapter("ebay", {"TEE-S": 5}, token_lifetime_seconds=3600)
    # Good for an hour by the hub's count, unknown to eBay (revoked by a password change).
    adapter.credentials["access_token"] = "v^1.1#revoked-early"
    adapter.credentials["access_token_expires_at"] = (
        datetime.now(UTC) + timedelta(hours=1)
    ).isoformat()

    assert adapter.read_levels([ListingRef(sku="TEE-S")]) == {"TEE-S": 5}

    assert adapter.credentials["access_token"] != "v^1.1#revoked-early"
    statuses_seen = [(e["path"], e["status"]) for e in control.log(store["store"])]
    assert statuses_seen == [
        ("/sell/inventory/v1/bulk_get_inventory_item", 401),
        ("/identity/v1/oauth2/token", 200),
        ("/sell/inventory/v1/bulk_get_inventory_item", 200),
    ]


def test_a_bare_access_token_refused_by_ebay_is_not_retried(store_with_adapter, control):
    store, adapter = store_with_adapter(
        "ebay", {"TEE-S": 5}, credentials={"access_token": "the-right-one"}
    )
    adapter.credentials["access_token"] = "a-wrong-one"

    with pytest.raises(ChannelRejected) as refused:
        adapter.read_levels([ListingRef(sku="TEE-S")])

    assert refused.value.status_code == 401
    assert len(control.log(store["store"])) == 1
