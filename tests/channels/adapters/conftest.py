"""Adapters against a real simulator on loopback: no mocks, real HTTP."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from channels.adapters import ChannelAdapter, adapter_for
from simulator import ChannelSimulator, SimulatorClient


@pytest.fixture
def simulator() -> Iterator[ChannelSimulator]:
    with ChannelSimulator(seed=7) as running:
        yield running


@pytest.fixture
def control(simulator: ChannelSimulator) -> Iterator[SimulatorClient]:
    with SimulatorClient(simulator.url) as client:
        yield client


@pytest.fixture
def store_with_adapter(
    control: SimulatorClient,
) -> Iterator[Callable[..., tuple[dict[str, Any], ChannelAdapter]]]:
    """``(kind, levels, timeout=..., **store options)`` -> (store description, adapter).

    Stores get no rate limit unless the test asks for one, so that only the tests about
    rate limits ever meet a 429.
    """
    adapters: list[ChannelAdapter] = []

    def make(
        kind: str, levels: dict[str, int], *, timeout: float = 5.0, **options: Any
    ) -> tuple[dict[str, Any], ChannelAdapter]:
        options.setdefault("rate_limit", False)
        store = control.create_store(kind, f"{kind}-store", levels=levels, **options)
        channel = store["channel"]
        adapter = adapter_for(
            kind,
            base_url=store["base_url"],
            credentials=channel["credentials"],
            settings=channel["settings"],
            timeout=timeout,
        )
        adapters.append(adapter)
        return store, adapter

    yield make
    for adapter in adapters:
        adapter.close()
