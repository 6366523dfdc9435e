"""Every kind's real wire format, end to end: the simulator sells and sends its signed
webhooks over HTTP to the hub's live server; the hub verifies, stores, processes."""

import pytest

from channels.intake.inbox import inbox_process
from channels.models import InboundEvent
from channels.services import channel_create
from ledger.models import Reservation, StockLevel
from ledger.services import sku_create, stock_receive

KINDS = ["shopify", "woocommerce", "standard", "sandbox", "ebay"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
def test_a_sale_on_the_channel_reaches_the_ledger_once(sim, live_server, settings, kind):
    settings.SECURE_SSL_REDIRECT = False
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    slug = f"{kind}-store"
    store = sim.create_store(
        kind, slug, levels={"MUG": 10}, webhook_url=f"{live_server.url}/webhooks/{slug}/"
    )
    config = store["channel"]
    channel_create(
        slug=slug,
        kind=kind,
        name=slug,
        webhook_secret=store["webhook_secret"],
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"]},
    )
    sent = sim.place_order(slug, [{"sku": "MUG", "quantity": 3}], duplicates=2)
    statuses = [delivery["status"] for delivery in sent["deliveries"]]
    assert statuses and set(statuses) == {200}, (
        sent["deliveries"][0].get("response") or sent["deliveries"][0]
    )
    events = InboundEvent.objects.filter(channel__slug=slug)
    assert events.count() == 1  # three deliveries, one event
    inbox_process(event_id=events.get().pk)
    event = events.get()
    assert event.status == "processed", event.error
    assert Reservation.objects.filter(channel_slug=slug).count() == 1
    assert StockLevel.objects.get(sku=sku).committed == 3
