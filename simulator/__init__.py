"""The channel simulator: a real HTTP server on loopback that plays every channel kind.

It speaks the wire protocols the adapters use (Shopify GraphQL, WooCommerce REST, Amazon
SP-API with LWA and an SQS queue, eBay Sell Inventory, Standard Webhooks storefronts),
keeps its own stock per store, sends signed webhooks to the hub, and injects faults on
demand: latency, 5xx, 429 with Retry-After, timeouts, acknowledged-but-dropped writes,
duplicate and reordered deliveries.

* A store is addressed as ``<sim>/<kind>/<store>/...`` with the channel's own API paths
  below it; a hub channel's ``settings.base_url`` is ``<sim>/<kind>/<store>``.
* The control API lives under ``<sim>/_control`` (see :mod:`simulator.control`).
* Run it with ``manage.py simulate_channels --port P``, or in-process with
  ``ChannelSimulator(port=0).start()`` (see :mod:`simulator.server`);
  :class:`~simulator.client.SimulatorClient` drives the control API.
"""

from simulator.client import SimulatorClient
from simulator.server import ChannelSimulator

__all__ = ["ChannelSimulator", "SimulatorClient"]
