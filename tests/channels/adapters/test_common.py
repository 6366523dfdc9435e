"""Behaviour every adapter shares, checked against the simulator for every kind."""

import time

import pytest

from channels.adapters import (
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    adapter_class,
    adapter_for,
)
from channels.webhooks.signing import make_standard_secret

from .support import ALL_KINDS, closed_port_url, mapped_refs, push_all, statuses

pytestmark = pytest.mark.parametrize("kind", ALL_KINDS)

LEVELS = {"TEE-S": 5, "TEE-M": 7, "MUG": 0}


def test_push_then_read_back_converges(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS)
    refs = mapped_refs(store)
    wanted = {"TEE-S": 2, "TEE-M": 9, "MUG": 4}

    outcomes = push_all(adapter, refs, wanted)

    assert statuses(outcomes) == dict.fromkeys(wanted, "accepted")
    assert adapter.read_levels(list(refs.values())) == wanted
    assert control.levels(store["store"]) == wanted


def test_read_of_an_unknown_sku_is_none(kind, store_with_adapter):
    _, adapter = store_with_adapter(kind, LEVELS)

    levels = adapter.read_levels([ListingRef(sku="TEE-S"), ListingRef(sku="NOT-LISTED")])

    assert levels == {"TEE-S": 5, "NOT-LISTED": None}


def test_find_listings_returns_the_channel_ids(kind, store_with_adapter):
    store, adapter = store_with_adapter(kind, LEVELS)

    found = adapter.find_listings(["TEE-S", "MUG", "NOT-LISTED"])

    assert set(found) == {"TEE-S", "MUG"}
    if kind in ("shopify", "woocommerce", "ebay"):
        for sku, ref in found.items():
            assert ref.external_id == store["listings"][sku]["external_id"]


def test_unmapped_listings_are_looked_up_by_sku(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS)
    refs = {sku: ListingRef(sku=sku) for sku in ["TEE-S", "TEE-M"]}

    outcomes = push_all(adapter, refs, {"TEE-S": 1, "TEE-M": 3})

    assert statuses(outcomes) == {"TEE-S": "accepted", "TEE-M": "accepted"}
    assert control.levels(store["store"]) == {"TEE-S": 1, "TEE-M": 3, "MUG": 0}


def test_a_batch_never_exceeds_max_batch(kind, store_with_adapter, control):
    max_batch = adapter_class(kind).max_batch
    count = max_batch + 5 if max_batch > 1 else 3
    levels = {f"SKU-{n:03d}": 1 for n in range(count)}
    store, adapter = store_with_adapter(kind, levels)
    refs = mapped_refs(store)

    outcomes = push_all(adapter, refs, dict.fromkeys(levels, 2))

    assert set(statuses(outcomes).values()) == {"accepted"}
    log = control.log(store["store"])
    writes = [entry for entry in log if entry["operation"] == "write" and entry["items"]]
    if kind == "amazon":
        # A full batch is one JSON_LISTINGS_FEED (createFeed carries its messages, its
        # createFeedDocument none); the rest, below the feed threshold, is patched per SKU.
        assert len(writes) == count // max_batch + count % max_batch
    else:
        assert len(writes) == -(-count // max_batch)
    assert max(entry["items"] for entry in writes) <= max_batch
    too_many = [
        LevelPush(ref=ref, quantity=0, expected=None, key=f"k-{sku}")
        for sku, ref in list(refs.items())[: max_batch + 1]
    ]
    with pytest.raises(ValueError, match="the most is"):
        adapter.push_levels(too_many)


def test_429_raises_throttled_with_the_retry_after(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS)
    control.set_faults(store["store"], error_rate=1, status=429, retry_after=2.5)

    with pytest.raises(ChannelThrottled) as pushed:
        push_all(adapter, mapped_refs(store), {"TEE-S": 1})
    with pytest.raises(ChannelThrottled) as read:
        adapter.read_levels([ListingRef(sku="TEE-S")])

    assert pushed.value.retry_after == pytest.approx(2.5)
    assert read.value.retry_after == pytest.approx(2.5)
    assert control.levels(store["store"])["TEE-S"] == 5


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_raises_unavailable(kind, status, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS)
    control.set_faults(store["store"], error_rate=1, status=status)

    with pytest.raises(ChannelUnavailable) as failure:
        push_all(adapter, mapped_refs(store), {"TEE-S": 1})

    assert failure.value.status_code == status


def test_outage_raises_unavailable(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS)
    control.set_faults(store["store"], outage=True)

    with pytest.raises(ChannelUnavailable):
        push_all(adapter, mapped_refs(store), {"TEE-S": 1})
    with pytest.raises(ChannelUnavailable):
        adapter.read_levels([ListingRef(sku="TEE-S")])


def test_a_hanging_channel_times_out_quickly(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, LEVELS, timeout=0.3)
    refs = mapped_refs(store)
    adapter.read_levels([refs["TEE-S"]])  # Amazon fetches its LWA token here.
    control.set_faults(store["store"], timeout=True)

    started = time.monotonic()
    with pytest.raises(ChannelUnavailable, match="timed out"):
        push_all(adapter, refs, {"TEE-S": 1})

    assert time.monotonic() - started < 2


def test_dropped_writes_are_accepted_but_read_back_shows_the_old_value(
    kind, store_with_adapter, control
):
    store, adapter = store_with_adapter(kind, LEVELS)
    refs = mapped_refs(store)
    control.set_faults(store["store"], drop_writes=True)

    outcomes = push_all(adapter, refs, {"TEE-S": 1, "TEE-M": 2})

    assert statuses(outcomes) == {"TEE-S": "accepted", "TEE-M": "accepted"}
    assert adapter.read_levels([refs["TEE-S"], refs["TEE-M"]]) == {"TEE-S": 5, "TEE-M": 7}


def test_a_refused_connection_is_unavailable(kind, store_with_adapter):
    store, _ = store_with_adapter(kind, LEVELS)
    channel = store["channel"]
    base_url = f"{closed_port_url()}/{kind}/{store['store']}"
    with (
        adapter_for(
            kind,
            base_url=base_url,
            credentials=channel["credentials"],
            settings={**channel["settings"], "base_url": base_url, "push_url": ""},
            timeout=2,
        ) as adapter,
        pytest.raises(ChannelUnavailable),
    ):
        push_all(adapter, {"TEE-S": ListingRef(sku="TEE-S", external_id="1")}, {"TEE-S": 1})


WRONG_CREDENTIALS = {
    "shopify": ({"access_token": "right"}, {"access_token": "wrong"}),
    "woocommerce": (
        {"consumer_key": "ck_right", "consumer_secret": "cs_right"},
        {"consumer_key": "ck_right", "consumer_secret": "cs_wrong"},
    ),
    "amazon": (
        {"lwa_app_id": "app", "lwa_client_secret": "secret", "refresh_token": "Atzr|right"},
        {"lwa_app_id": "app", "lwa_client_secret": "secret", "refresh_token": "Atzr|wrong"},
    ),
    "ebay": ({"access_token": "right"}, {"access_token": "wrong"}),
}


def test_bad_credentials_are_rejected(kind, store_with_adapter):
    if kind in ("standard", "sandbox"):
        store, _ = store_with_adapter(kind, LEVELS)
        wrong = {"webhook_secret": make_standard_secret()}
    else:
        right, wrong = WRONG_CREDENTIALS[kind]
        store, _ = store_with_adapter(kind, LEVELS, credentials=right)
    with (
        adapter_for(
            kind,
            base_url=store["base_url"],
            credentials=wrong,
            settings=store["channel"]["settings"],
        ) as adapter,
        pytest.raises(ChannelRejected),
    ):
        push_all(adapter, mapped_refs(store), {"TEE-S": 1})
