"""The simulated channel kinds, by the name used in ``<sim>/<kind>/<store>`` URLs."""

from simulator.kinds.amazon import AmazonApi
from simulator.kinds.base import KindApi
from simulator.kinds.ebay import EbayApi
from simulator.kinds.shopify import ShopifyApi
from simulator.kinds.standard import SandboxApi, StandardApi
from simulator.kinds.woocommerce import WooCommerceApi

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
