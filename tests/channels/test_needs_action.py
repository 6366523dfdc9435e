"""A channel that refuses the hub's credentials needs its merchant: its pushes wait (not
dead, no attempt spent, no DLQ row), its drains and reconciles stop, the channel page,
the channels list, the digest, /healthz and the API say what to do, and changing the
credentials (or "Try again") resumes the pushes. Against the simulator over real HTTP:
a sandbox store answers 401 to a push signed with another secret."""

import httpx
import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from channels.models import (
    Channel,
    ChannelAudit,
    Listing,
    OutboxEntry,
    OutboxStatus,
)
from channels.propagation import breaker
from channels.propagation.drain import outbox_drain_channel, outbox_sweep
from channels.reconcile.digest import digest_send
from channels.reconcile.runs import reconcile_channel, reconcile_due
from channels.services import channel_create, channel_update
from channels.webhooks.signing import make_standard_secret
from ledger.services import sku_create, stock_receive
from tests.factories import role_user

pytestmark = pytest.mark.django_db

SENTENCE = "The sandbox store refused the credentials: update them on the channel page"


@pytest.fixture
def refused(simulator):
    """A sandbox channel whose secret the store does not know, and two SKUs owed to it."""
    store_secret = make_standard_secret()
    httpx.post(
        f"{simulator.url}/_control/stores",
        json={
            "kind": "sandbox",
            "store": "sb",
            "webhook_url": "http://127.0.0.1:9/",
            "webhook_secret": store_secret,
            "levels": {},
        },
    ).raise_for_status()
    channel = channel_create(
        slug="sb",
        kind="sandbox",
        name="Sandbox",
        webhook_secret=make_standard_secret(),
        settings={"base_url": f"{simulator.url}/sandbox/sb", "timeout_seconds": 2},
    )
    for code, quantity in (("A", 5), ("B", 9)):
        stock_receive(sku=sku_create(code=code), quantity=quantity)
    return channel, store_secret


def store_levels(simulator):
    return httpx.get(f"{simulator.url}/_control/stores/sb/levels").json()


def test_a_refused_credential_pauses_the_channel_instead_of_the_dlq(simulator, refused):
    channel, _ = refused

    outbox_drain_channel(channel_id=channel.pk)

    channel.refresh_from_db()
    assert channel.needs_action == SENTENCE
    assert channel.needs_action_since is not None
    entries = list(OutboxEntry.objects.all())
    assert len(entries) == 2
    assert {(e.status, e.attempts) for e in entries} == {(OutboxStatus.PENDING, 0)}
    assert not OutboxEntry.objects.filter(status=OutboxStatus.DEAD).exists()
    assert set(Listing.objects.values_list("state", flat=True)) == {"pending"}
    assert breaker.allows("sb")  # the channel's service is not failing: it waits
    assert ChannelAudit.objects.filter(message__contains="Pushes paused").count() == 1
    assert store_levels(simulator) == {}


def test_while_it_needs_action_nothing_drains_sweeps_or_reconciles(simulator, refused, monkeypatch):
    channel, _ = refused
    outbox_drain_channel(channel_id=channel.pk)
    enqueued = []
    monkeypatch.setattr("channels.propagation.drain.enqueue", lambda *args: enqueued.append(args))
    monkeypatch.setattr("channels.reconcile.runs.enqueue", lambda *args: enqueued.append(args))
    OutboxEntry.objects.update(next_attempt_at=Channel.objects.get().created_at)

    assert outbox_drain_channel(channel_id=channel.pk) == 0
    assert outbox_sweep() == 0
    assert reconcile_channel(channel_id=channel.pk) is None
    reconcile_due()

    assert enqueued == []
    assert {e.attempts for e in OutboxEntry.objects.all()} == {0}


def test_new_credentials_resume_the_pushes(simulator, refused, django_capture_on_commit_callbacks):
    channel, store_secret = refused
    outbox_drain_channel(channel_id=channel.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        channel_update(channel=Channel.objects.get(pk=channel.pk), webhook_secret=store_secret)

    channel.refresh_from_db()
    assert (channel.needs_action, channel.needs_action_since) == ("", None)
    assert callbacks  # the drain is woken
    assert outbox_drain_channel(channel_id=channel.pk) == 2
    assert store_levels(simulator) == {"A": 5, "B": 9}
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {OutboxStatus.CONFIRMED}


def test_a_change_of_name_alone_does_not_clear_it(simulator, refused):
    channel, _ = refused
    outbox_drain_channel(channel_id=channel.pk)

    channel_update(channel=Channel.objects.get(pk=channel.pk), name="Renamed")

    assert Channel.objects.get(pk=channel.pk).needs_action == SENTENCE


def test_the_channel_page_and_list_say_it_and_a_merchant_may_try_again(simulator, refused, client):
    channel, store_secret = refused
    outbox_drain_channel(channel_id=channel.pk)
    viewer = role_user("Viewer")
    client.force_login(viewer)

    page = client.get("/channels/sb/").content.decode()
    listing = client.get("/channels/").content.decode()
    assert SENTENCE in page and "Try again" not in page
    assert SENTENCE in listing
    assert client.post("/channels/sb/try-again/").status_code == 403
    assert Channel.objects.get().needs_action == SENTENCE

    # Fixed on the store's side this time: the store learns the hub's secret.
    httpx.post(
        f"{simulator.url}/_control/stores",
        json={
            "kind": "sandbox",
            "store": "sb",
            "webhook_url": "http://127.0.0.1:9/",
            "webhook_secret": Channel.objects.get().webhook_secret,
            "levels": {},
        },
    ).raise_for_status()
    client.force_login(role_user("Merchant"))
    assert "Try again" in client.get("/channels/sb/").content.decode()
    answer = client.post("/channels/sb/try-again/", follow=True)

    assert answer.status_code == 200
    assert SENTENCE not in answer.content.decode()
    assert Channel.objects.get().needs_action == ""
    assert outbox_drain_channel(channel_id=channel.pk) == 2
    assert store_levels(simulator) == {"A": 5, "B": 9}


def test_the_digest_healthz_and_api_name_what_to_do(simulator, refused, client, mailoutbox):
    channel, _ = refused
    outbox_drain_channel(channel_id=channel.pk)

    digest = digest_send()
    assert not digest.all_clear
    assert f"Sandbox: {SENTENCE} (pushes paused)" in digest.body
    assert SENTENCE in mailoutbox[0].body

    with override_settings(METRICS_TOKEN="t0ken"):
        detail = client.get("/healthz", HTTP_AUTHORIZATION="Bearer t0ken").json()
        stranger = client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()
    assert detail["channels_needing_action"] == 1
    assert detail["needs_action"][0]["channel"] == "sb"
    assert detail["needs_action"][0]["action"] == SENTENCE
    assert stranger["channels_needing_action"] == 1 and "needs_action" not in stranger

    api = APIClient()
    api.force_authenticate(role_user("Viewer"))
    shown = api.get("/api/v1/channels/sb/").json()
    assert shown["needs_action"] == SENTENCE
    assert shown["needs_action_since"]


def test_the_api_cannot_write_needs_action(simulator, refused):
    channel, _ = refused
    outbox_drain_channel(channel_id=channel.pk)
    api = APIClient()
    api.force_authenticate(role_user("Admin"))

    answer = api.patch(
        "/api/v1/channels/sb/",
        {"name": "Still", "needs_action": "", "needs_action_since": None},
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    assert Channel.objects.get().needs_action == SENTENCE


def test_try_again_from_the_page_swaps_the_notice_in_place(simulator, refused, client):
    channel, _ = refused
    outbox_drain_channel(channel_id=channel.pk)
    client.force_login(role_user("Merchant"))

    answer = client.post("/channels/sb/try-again/", headers={"HX-Request": "true"})

    assert answer.status_code == 200
    fragment = answer.content.decode()
    assert 'id="needs-action"' in fragment and "Pushes to Sandbox resume now." in fragment
    assert "<html" not in fragment
    assert Channel.objects.get().needs_action == ""


def test_a_shopify_location_the_shop_does_not_have_pauses_it_until_the_settings_name_one(
    sim, client
):
    # The shop has location 111; the channel's settings say 222. Every push would fail
    # the same way, so the channel waits with the sentence instead of dead-lettering.
    store = sim.create_store("shopify", "shop", levels={"MUG": 3}, location_id="111")
    settings = {**store["channel"]["settings"], "base_url": store["base_url"]}
    channel = channel_create(
        slug="shop",
        kind="shopify",
        name="Shop",
        webhook_secret=store["webhook_secret"],
        credentials=store["channel"]["credentials"],
        settings={**settings, "location_id": "222"},
    )
    stock_receive(sku=sku_create(code="MUG"), quantity=7)

    outbox_drain_channel(channel_id=channel.pk)

    channel.refresh_from_db()
    assert "Shopify has no location 222" in channel.needs_action
    assert {(e.status, e.attempts) for e in OutboxEntry.objects.all()} == {
        (OutboxStatus.PENDING, 0)
    }
    client.force_login(role_user("Viewer"))
    page = client.get(f"/channels/{channel.slug}/").content.decode()
    assert "Shopify has no location 222" in page
    assert sim.levels("shop") == {"MUG": 3}

    channel_update(channel=channel, settings={**settings, "location_id": "111"})
    outbox_drain_channel(channel_id=channel.pk)

    channel.refresh_from_db()
    assert channel.needs_action == ""
    assert sim.levels("shop") == {"MUG": 7}
