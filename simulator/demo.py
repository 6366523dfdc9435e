"""The store the simulator keeps for one of the hub's channels (``seed_demo`` and
``simulate_channels --stores-from-hub``), set up the way a real store of its kind behaves
where that differs from a naive one, so that the demo runs the paths a merchant's store
will: eBay access tokens expire and the hub renews them from the refresh token; a Shopify
shop has a second location whose level reports the hub must leave alone."""

from __future__ import annotations

from typing import Any

from channels.models import Channel, ChannelKind, Listing

# eBay's user tokens live two hours; the demo's a quarter of an hour, so that a renewal
# happens while someone is looking.
DEMO_TOKEN_LIFETIME_SECONDS = 900
# A Shopify location the hub does not publish to (the demo publishes to location 1).
DEMO_OTHER_LOCATION = "2"


def store_spec(channel: Channel, *, web_url: str) -> dict[str, Any]:
    """The ``POST /_control/stores`` body for ``channel``: its listings' published
    quantities, webhooks to ``web_url``, and the ids and credentials it is configured
    with pinned, so that the store insists on what a real one would."""
    settings = channel.settings or {}
    credentials = channel.credentials or {}
    spec: dict[str, Any] = {
        "kind": channel.kind,
        "store": channel.slug,
        "webhook_url": f"{web_url.rstrip('/')}/webhooks/{channel.slug}/",
        "webhook_secret": channel.webhook_secret,
        "levels": dict(
            Listing.objects.filter(channel=channel).values_list("sku__code", "published")
        ),
    }
    for key in ("location_id", "seller_id", "marketplace_id", "product_type"):
        if settings.get(key):
            spec[key] = str(settings[key])
    if channel.kind == ChannelKind.EBAY and credentials.get("refresh_token"):
        spec["credentials"] = {
            key: credentials[key]
            for key in ("client_id", "client_secret", "refresh_token")
            if credentials.get(key)
        }
        spec["token_lifetime_seconds"] = DEMO_TOKEN_LIFETIME_SECONDS
    if channel.kind == ChannelKind.SHOPIFY and settings.get("location_id"):
        spec["locations"] = {DEMO_OTHER_LOCATION: {}}
    return spec
