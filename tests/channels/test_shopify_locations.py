"""A Shopify shop with several locations sends one inventory_levels/update per location
(the REST InventoryLevel carries location_id): only the location the hub publishes to is
the hub's business. Over real HTTP: the simulator's multi-location store signs and posts
its level webhooks to the hub's live server."""

import pytest

from channels.intake.inbox import inbox_process
from channels.models import Drift, InboundEvent, Listing
from channels.services import channel_create, listing_map
from ledger.services import sku_create, stock_receive


def shop_channel(sim, live_server, *, slug, map_location):
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    store = sim.create_store(
        "shopify",
        slug,
        levels={"MUG": 10},
        location_id="111",
        locations={"222": {"MUG": 40}, "333": {}},
        webhook_url=f"{live_server.url}/webhooks/{slug}/",
    )
    config = store["channel"]
    settings = {**config["settings"], "base_url": store["base_url"]}
    if map_location:
        settings.pop("location_id")  # the listing names the location instead
    channel = channel_create(
        slug=slug,
        kind="shopify",
        name=slug,
        webhook_secret=store["webhook_secret"],
        credentials=config["credentials"],
        settings=settings,
    )
    listing = store["listings"]["MUG"]
    listing_map(
        channel=channel,
        sku=sku,
        external_id=listing["external_id"],
        external_location_id="gid://shopify/Location/111" if map_location else "",
    )
    return channel


def process_all(slug):
    for event in InboundEvent.objects.filter(channel__slug=slug):
        inbox_process(event_id=event.pk)
    return {
        _location(event.body): event.status
        for event in InboundEvent.objects.filter(channel__slug=slug)
    }


def _location(body: str) -> str:
    return body.split('"location_id":', 1)[1].split(",", 1)[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("map_location", [False, True], ids=["channel-setting", "listing"])
def test_levels_at_other_locations_are_ignored_not_drift(sim, live_server, map_location):
    slug = f"multi-{int(map_location)}"
    channel = shop_channel(sim, live_server, slug=slug, map_location=map_location)

    sent = sim.send_event(slug, type="inventory.level", sku="MUG", quantity=7)

    assert [d["status"] for d in sent["deliveries"]] == [200, 200, 200]
    assert process_all(slug) == {
        "111": "processed",
        "222": "other_location",
        "333": "other_location",
    }
    [drift] = Drift.objects.filter(channel=channel)
    assert drift.channel_quantity == 7  # the published location's number, not 40 or 0
    assert Listing.objects.get(channel=channel).last_reported == 7
