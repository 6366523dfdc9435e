"""Shopify hands the hub's throttle each call's requested query cost, in points, as the
store charges it; every other kind hands it 1 per request."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from channels.adapters import ChannelAdapter, ListingRef, adapter_for
from channels.adapters.shopify import ShopifyAdapter

from .support import ALL_KINDS, mapped_refs, push_all


class CostLog:
    """A throttle that lets every request through and remembers what each one cost."""

    def __init__(self) -> None:
        self.costs: list[float] = []

    def __call__(self, cost: float = 1.0) -> None:
        self.costs.append(cost)


@pytest.fixture
def metered(control) -> Iterator[Callable[..., tuple[dict[str, Any], ChannelAdapter, CostLog]]]:
    """``(kind, levels)`` -> (store, adapter, cost log): a store with its kind's documented
    limits and an adapter whose throttle records each request's cost."""
    adapters: list[ChannelAdapter] = []

    def make(kind: str, levels: dict[str, int]) -> tuple[dict[str, Any], ChannelAdapter, CostLog]:
        store = control.create_store(kind, f"{kind}-metered", levels=levels)
        log = CostLog()
        adapter = adapter_for(
            kind,
            base_url=store["base_url"],
            credentials=store["channel"]["credentials"],
            settings=store["channel"]["settings"],
            timeout=5,
            throttle=log,
        )
        adapters.append(adapter)
        return store, adapter, log

    yield make
    for adapter in adapters:
        adapter.close()


def skus(count: int) -> list[str]:
    return [f"SKU-{n:04d}" for n in range(count)]


def test_the_budget_is_the_standard_plans_points():
    assert (ShopifyAdapter.rate_per_second, ShopifyAdapter.burst) == (100.0, 1000)


def test_a_push_costs_a_mutation_and_a_read_one_plus_two_per_item(metered, control):
    store, adapter, log = metered("shopify", dict.fromkeys(skus(250), 1))
    refs = mapped_refs(store)

    push_all(adapter, refs, dict.fromkeys(skus(250), 4))
    adapter.read_levels(list(refs.values()))
    adapter.read_levels([refs["SKU-0000"], refs["SKU-0001"]])

    assert log.costs == [10, 501, 5]
    assert control.stats()["rate_limit_violations"] == 0


def test_a_lookup_by_sku_costs_its_connection(metered):
    _, adapter, log = metered("shopify", dict.fromkeys(skus(60), 1))

    found = adapter.find_listings(skus(60))

    assert len(found) == 60
    assert log.costs == [2 + 2 * 50, 2 + 2 * 10]  # searched 50 SKUs at a time


def test_an_unmapped_push_pays_for_the_lookup_too(metered):
    _, adapter, log = metered("shopify", {"MUG": 1})

    push_all(adapter, {"MUG": ListingRef(sku="MUG")}, {"MUG": 3})

    assert log.costs == [4, 10]


@pytest.mark.parametrize("kind", [kind for kind in ALL_KINDS if kind != "shopify"])
def test_other_kinds_cost_one_per_request(metered, control, kind):
    store, adapter, log = metered(kind, {"TEE-S": 1, "MUG": 2})
    refs = mapped_refs(store)

    push_all(adapter, refs, {"TEE-S": 5, "MUG": 6})
    adapter.read_levels(list(refs.values()))

    assert log.costs
    assert set(log.costs) == {1.0}
    assert len(log.costs) == control.stats()["stores"][store["store"]]["requests"]
