"""WooCommerce keys its webhook HMAC with the secret's HTML entities decoded
(``wp_specialchars_decode($secret, ENT_QUOTES)`` in ``WC_Webhook::generate_signature``):
a secret stored as ``s3cr&amp;t`` signs with ``s3cr&t``. Over real HTTP: the simulator
signs as WooCommerce does and the hub accepts it."""

import pytest

from channels.intake.inbox import inbox_process
from channels.models import InboundEvent
from channels.services import channel_create
from ledger.models import StockLevel
from ledger.services import sku_create, stock_receive

SECRET = "s3cr&amp;t&#039;&lt;ok&gt;"


@pytest.mark.django_db(transaction=True)
def test_an_order_signed_with_an_entity_secret_is_accepted(sim, live_server):
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    store = sim.create_store(
        "woocommerce",
        "woo-amp",
        levels={"MUG": 10},
        webhook_url=f"{live_server.url}/webhooks/woo-amp/",
        webhook_secret=SECRET,
    )
    config = store["channel"]
    channel_create(
        slug="woo-amp",
        kind="woocommerce",
        name="Woo",
        webhook_secret=SECRET,
        credentials=config["credentials"],
        settings={**config["settings"], "base_url": store["base_url"]},
    )

    sent = sim.place_order("woo-amp", [{"sku": "MUG", "quantity": 2}])

    assert [d["status"] for d in sent["deliveries"]] == [200]
    event = InboundEvent.objects.get(channel__slug="woo-amp")
    inbox_process(event_id=event.pk)
    assert StockLevel.objects.get(sku=sku).committed == 2
