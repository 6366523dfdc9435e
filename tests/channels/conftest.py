"""A channel simulator on a free loopback port, for the tests that push to its stores."""

from collections.abc import Iterator

import pytest

from simulator.client import SimulatorClient
from simulator.server import ChannelSimulator


@pytest.fixture
def simulator() -> Iterator[ChannelSimulator]:
    server = ChannelSimulator(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator: ChannelSimulator) -> Iterator[SimulatorClient]:
    """The simulator's control API."""
    with SimulatorClient(simulator.url) as client:
        yield client
