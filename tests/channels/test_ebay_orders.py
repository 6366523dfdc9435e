"""eBay end to end over real HTTP: an ORDER_CONFIRMATION names only the order, the
intake worker reads its lines with getOrder, with an access token it renews itself, and
the notification's public key is read with an application token."""

import pytest
from django.utils import timezone

from channels.adapters.ebay import REVOKED_ACTION
from channels.intake.inbox import inbox_process
from channels.models import Channel, ChannelAudit, InboundEvent
from channels.services import channel_create
from channels.tokens import ChannelCredentialStore
from channels.webhooks.verify import clear_ebay_key_cache
from ledger.models import StockLevel
from ledger.services import sku_create, stock_receive

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ebay(sim, live_server, settings):
    """An eBay store whose tokens expire, and the hub's channel for it."""
    settings.SECURE_SSL_REDIRECT = False
    clear_ebay_key_cache()

    def make(slug="bay", **options):
        sku = sku_create(code="MUG")
        stock_receive(sku=sku, quantity=10)
        store = sim.create_store(
            "ebay",
            slug,
            levels={"MUG": 10, "TEE": 4},
            webhook_url=f"{live_server.url}/webhooks/{slug}/",
            token_lifetime_seconds=3600,
            **options,
        )
        config = store["channel"]
        channel = channel_create(
            slug=slug,
            kind="ebay",
            name=slug,
            webhook_secret=store["webhook_secret"],
            credentials=config["credentials"],
            settings=config["settings"],
        )
        return store, channel, sku

    yield make
    clear_ebay_key_cache()


def _paths(sim, store) -> list[tuple[str, int]]:
    return [(entry["path"], entry["status"]) for entry in sim.log(store["store"])]


def test_a_sale_is_read_from_the_order_and_reaches_the_ledger(ebay, sim):
    store, channel, sku = ebay()

    sent = sim.place_order("bay", [{"sku": "MUG", "quantity": 3}, {"sku": "TEE", "quantity": 1}])

    assert {d["status"] for d in sent["deliveries"]} == {200}
    events = list(InboundEvent.objects.filter(channel=channel).order_by("pk"))
    assert len(events) == 2  # one notification per line item, both naming the order
    for event in events:
        inbox_process(event_id=event.pk)
        event.refresh_from_db()
        assert event.status == "unmapped", event.error  # TEE is not a hub SKU
    assert StockLevel.objects.get(sku=sku).committed == 3  # applied once
    order_id = sent["orders"][0]["order_id"]
    calls = _paths(sim, store)
    # The key was read with an application token (the channel has no static token),
    # and the order with a user token minted from the refresh token.
    key_reads = [status for path, status in calls if "/public_key/" in path]
    assert key_reads == [200]
    assert [p for p, _ in calls].count("/identity/v1/oauth2/token") == 2
    assert ("/sell/fulfillment/v1/order/" + order_id, 200) in calls
    channel.refresh_from_db()
    assert channel.credentials["access_token"].startswith("v^1.1#sim-user-")


def test_an_order_ebay_does_not_know_is_parked_with_the_reason(ebay, sim):
    store, channel, _ = ebay()
    payload = {
        "metadata": {"topic": "ORDER_CONFIRMATION", "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": "n-unknown-order",
            "eventDate": "2026-12-01T10:00:00.000Z",
            "publishDate": "2026-12-01T10:00:00.100Z",
            "publishAttemptCount": 1,
            "data": {"orderId": "99-99999-99999"},
        },
    }

    sim.send_event("bay", topic="ORDER_CONFIRMATION", payload=payload)
    event = InboundEvent.objects.get(channel=channel)
    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == "dead"
    assert "order 99-99999-99999" in event.error and "not found" in event.error


def test_an_order_read_that_fails_for_now_is_retried(ebay, sim):
    store, channel, sku = ebay()
    sim.place_order("bay", [{"sku": "MUG", "quantity": 2}])
    event = InboundEvent.objects.get(channel=channel)
    sim.set_faults("bay", outage=True)

    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == "failed"
    assert "503" in event.error and event.next_attempt_at is not None
    assert StockLevel.objects.get(sku=sku).committed == 0

    sim.clear_faults("bay")
    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == "processed", event.error
    assert StockLevel.objects.get(sku=sku).committed == 2


def test_a_revoked_refresh_token_keeps_the_order_waiting(ebay, sim):
    store, channel, sku = ebay(credentials={"refresh_token": "v^1.1#issued-after-a-reconnect"})
    sim.place_order("bay", [{"sku": "MUG", "quantity": 2}])
    event = InboundEvent.objects.get(channel=channel)
    # The hub holds the old token: eBay answers invalid_grant.
    store_creds = dict(channel.credentials)
    store_creds["refresh_token"] = "v^1.1#revoked"
    Channel.objects.filter(pk=channel.pk).update(credentials=store_creds)

    inbox_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == "failed"  # tried again after the merchant reconnects
    assert "ChannelNeedsAction" in event.error and "invalid_grant" in event.error
    assert StockLevel.objects.get(sku=sku).committed == 0


def test_the_drainer_meets_a_revoked_refresh_token_as_needs_action(ebay):
    from channels.adapters import adapter_for
    from channels.adapters.base import ChannelNeedsAction, ListingRef
    from channels.tokens import channel_credential_store

    store, channel, _ = ebay(credentials={"refresh_token": "v^1.1#issued-after-a-reconnect"})
    Channel.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "refresh_token": "v^1.1#revoked"}
    )
    channel.refresh_from_db()

    with (
        adapter_for(
            "ebay",
            base_url=channel.settings["base_url"],
            credentials=channel.credentials,
            settings=channel.settings,
            credential_store=channel_credential_store(channel),
        ) as adapter,
        pytest.raises(ChannelNeedsAction) as refused,
    ):
        adapter.read_levels([ListingRef(sku="MUG")])

    assert refused.value.action == REVOKED_ACTION
    assert "access_token" not in Channel.objects.get(pk=channel.pk).credentials


def test_a_renewal_is_stored_once_without_an_audit_row(ebay, sim):
    store, channel, _ = ebay()
    before = Channel.objects.get(pk=channel.pk).updated_at
    audits = ChannelAudit.objects.count()
    calls = []

    def renew(current):
        calls.append(dict(current))
        if current.get("access_token"):
            return None  # renewed by another process meanwhile
        return {"access_token": "fresh", "access_token_expires_at": timezone.now().isoformat()}

    first = ChannelCredentialStore(channel.pk).renew(renew)
    second = ChannelCredentialStore(channel.pk).renew(renew)

    assert first["access_token"] == second["access_token"] == "fresh"
    assert [bool(c.get("access_token")) for c in calls] == [False, True]
    stored = Channel.objects.get(pk=channel.pk)
    assert stored.credentials["refresh_token"] == store["channel"]["credentials"]["refresh_token"]
    assert stored.updated_at == before
    assert ChannelAudit.objects.count() == audits


def test_a_failed_renewal_stores_nothing(ebay):
    _, channel, _ = ebay()

    def renew(current):
        raise RuntimeError("eBay said no")

    with pytest.raises(RuntimeError):
        ChannelCredentialStore(channel.pk).renew(renew)

    assert "access_token" not in Channel.objects.get(pk=channel.pk).credentials


def test_the_key_lookup_mints_an_application_token_or_uses_what_the_channel_has(ebay):
    from channels.intake.verify import intake_channel

    _, with_keys, _ = ebay()
    bare = channel_create(
        slug="bare",
        kind="ebay",
        name="bare",
        webhook_secret="x" * 32,
        credentials={"access_token": "v^1.1#user"},
        settings={"base_url": "https://api.ebay.com"},
    )

    keyed = intake_channel(with_keys.slug, fresh=True).settings
    assert (keyed["client_id"], "application_token" in keyed) == (
        with_keys.credentials["client_id"],
        False,
    )
    # A channel with a bare access token has nothing else to send.
    assert intake_channel(bare.slug, fresh=True).settings["application_token"] == "v^1.1#user"


def test_processes_renewing_at_once_wait_for_each_other_and_renew_once(ebay):
    import threading
    import time

    from django.db import connection

    _, channel, _ = ebay()
    seen: list[str | None] = []
    first_inside = threading.Event()

    def renew(current):
        seen.append(current.get("access_token"))
        if current.get("access_token"):
            return None
        first_inside.set()
        time.sleep(0.5)  # the grant's round trip, with the row lock held
        return {"access_token": "minted-once"}

    def worker(results: list) -> None:
        try:
            results.append(ChannelCredentialStore(channel.pk).renew(renew)["access_token"])
        finally:
            connection.close()

    results: list[str] = []
    first = threading.Thread(target=worker, args=(results,))
    first.start()
    assert first_inside.wait(5)
    second = threading.Thread(target=worker, args=(results,))
    second.start()
    first.join(10)
    second.join(10)

    assert results == ["minted-once", "minted-once"]
    assert seen == [None, "minted-once"]  # the second read the credentials under the lock
