"""`seed_demo` sets the simulator's stores up the way real stores behave where that
differs from a naive one (simulator/demo.py), so `make run` exercises those paths: the
eBay account is connected by refresh token and its access tokens expire; the Shopify shop
has a second location whose level reports the hub leaves alone. Over real HTTP: the
simulator, and the hub as a live server receiving its webhooks."""

import io

import httpx
import pytest
from django.apps import apps
from django.core.management import call_command

from channels.intake.inbox import inbox_process
from channels.models import Channel, InboundEvent, Listing
from channels.propagation.drain import outbox_drain_channel
from foundation.roles import sync_role_groups


@pytest.fixture
def demo(simulator, live_server, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the demo login file
    sync_role_groups(apps)  # made by a migration; this test's database was flushed
    out = io.StringIO()
    call_command("seed_demo", simulator_url=simulator.url, web_url=live_server.url, stdout=out)
    assert "Demo ready" in out.getvalue()
    return simulator


@pytest.mark.django_db(transaction=True)
def test_the_demo_ebay_account_renews_its_own_access_token(demo, control):
    ebay = Channel.objects.get(slug="ebay")
    assert set(ebay.credentials) == {"client_id", "client_secret", "refresh_token"}
    # The store refuses anything but a token its identity endpoint issued.
    refused = httpx.get(
        f"{demo.url}/ebay/ebay/sell/inventory/v1/offer",
        params={"sku": "MUG-ENAMEL"},
        headers={"Authorization": "Bearer v^1.1#made-up"},
    )
    assert refused.status_code == 401

    outbox_drain_channel(channel_id=ebay.pk)

    ebay.refresh_from_db()
    assert ebay.credentials["access_token"]  # minted from the refresh token, kept
    published = dict(Listing.objects.filter(channel=ebay).values_list("sku__code", "published"))
    assert control.levels("ebay") == published
    assert set(Listing.objects.filter(channel=ebay).values_list("state", flat=True)) == {"in_sync"}


@pytest.mark.django_db(transaction=True)
def test_the_demo_shop_reports_a_second_location_that_the_hub_leaves_alone(demo, control):
    shop = Channel.objects.get(slug="shopify")
    outbox_drain_channel(channel_id=shop.pk)  # the first push finds the items by SKU
    listings = Listing.objects.filter(channel=shop)
    assert not listings.filter(external_id="").exists()
    # The listings follow the channel's location_id rather than copy it.
    assert set(listings.values_list("external_location_id", flat=True)) == {""}

    sent = control.send_event("shopify", type="inventory.level", sku="MUG-ENAMEL", quantity=7)

    assert [d["status"] for d in sent["deliveries"]] == [200, 200]
    events = InboundEvent.objects.filter(channel__slug="shopify")
    for event in events:
        inbox_process(event_id=event.pk)
    statuses = sorted(events.values_list("status", flat=True))
    assert statuses == ["other_location", "processed"]
    assert Listing.objects.get(channel__slug="shopify", sku__code="MUG-ENAMEL").last_reported == 7
