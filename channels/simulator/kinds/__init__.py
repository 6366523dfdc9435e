"""The simulated channel kinds, by the name used in ``<sim>/<kind>/<store>`` URLs."""

from channels.simulator.kinds.amazon import AmazonApi
from channels.simulator.kinds.base import KindApi
from channels.simulator.kinds.ebay import EbayApi
from channels.simulator.kinds.shopify import ShopifyApi
from channels.simulator.kinds.standard import SandboxApi, StandardApi
from channels.simulator.kinds.woocommerce import WooCommerceApi

KINDS: dict[str, KindApi] = {
    api.kind: api
    for api in (
        ShopifyApi(),
        WooCommerceApi(),
        AmazonApi(),
        EbayApi(),
        StandardApi(),
        SandboxApi(),
    )
}

__all__ = ["KINDS", "KindApi"]
