"""The drainer against the channel simulator over real HTTP: confirm by read-back,
catch dropped writes, back off, dead-letter, and converge after a DLQ retry."""

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.dlq import dlq_retry
from channels.propagation.drain import outbox_drain_channel, outbox_sweep
from channels.propagation.wake import drain_lease_key
from channels.services import channel_create
from channels.wakeup import lease_release, lease_take
from channels.webhooks.signing import make_standard_secret
from ledger.services import sku_create, stock_receive

pytestmark = pytest.mark.django_db


def sandbox_channel(simulator, slug="sandbox", **settings):
    secret = make_standard_secret()
    httpx.post(
        f"{simulator.url}/_control/stores",
        json={
            "kind": "sandbox",
            "store": slug,
            "webhook_url": "http://127.0.0.1:9/",
            "webhook_secret": secret,
            "levels": {},
        },
    ).raise_for_status()
    return channel_create(
        slug=slug,
        kind="sandbox",
        name="Sandbox",
        webhook_secret=secret,
        settings={"base_url": f"{simulator.url}/sandbox/{slug}", "timeout_seconds": 2, **settings},
    )


def levels(simulator, slug):
    return httpx.get(f"{simulator.url}/_control/stores/{slug}/levels").json()


def due_now():
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())


def test_pushes_are_confirmed_by_read_back(simulator):
    channel = sandbox_channel(simulator)
    for code, quantity in (("A", 5), ("B", 9)):
        stock_receive(sku=sku_create(code=code), quantity=quantity)
    assert outbox_drain_channel(channel_id=channel.pk) == 2
    assert levels(simulator, "sandbox") == {"A": 5, "B": 9}
    states = dict(Listing.objects.values_list("sku__code", "state"))
    assert states == {"A": "in_sync", "B": "in_sync"}
    assert set(Listing.objects.values_list("confirmed", flat=True)) == {5, 9}


def test_a_dropped_write_is_caught_and_retried(simulator):
    channel = sandbox_channel(simulator)
    stock_receive(sku=sku_create(code="A"), quantity=5)
    httpx.post(f"{simulator.url}/_control/faults", json={"store": "sandbox", "drop_writes": True})
    outbox_drain_channel(channel_id=channel.pk)
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.PENDING and "shows" in entry.last_error
    # A quick second look (a sale on the channel between write and read looks the same),
    # then looks that back off from there, each spending an attempt.
    first_wait = (entry.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < first_wait <= 2 and Listing.objects.get().state == "pending"
    due_now()
    outbox_drain_channel(channel_id=channel.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 2)
    assert 2 < (entry.next_attempt_at - timezone.now()).total_seconds() <= 4
    assert Listing.objects.get().state == "error"
    httpx.delete(f"{simulator.url}/_control/faults")
    due_now()
    outbox_drain_channel(channel_id=channel.pk)
    assert levels(simulator, "sandbox") == {"A": 5}
    assert Listing.objects.get().state == "in_sync"


def test_a_channel_that_keeps_dropping_writes_lands_in_the_dlq(simulator):
    channel = sandbox_channel(simulator)
    stock_receive(sku=sku_create(code="A"), quantity=5)
    httpx.post(f"{simulator.url}/_control/faults", json={"store": "sandbox", "drop_writes": True})
    waits = []
    for _ in range(8):
        outbox_drain_channel(channel_id=channel.pk)
        entry = OutboxEntry.objects.get()
        if entry.status == OutboxStatus.PENDING:
            waits.append(round((entry.next_attempt_at - timezone.now()).total_seconds()))
            due_now()
    assert (entry.status, entry.attempts) == (OutboxStatus.DEAD, 8)
    assert waits == [2, 4, 8, 16, 32, 64, 128]  # minutes in all, not a day
    assert Listing.objects.get().state == "dead"


def test_an_outage_longer_than_the_schedule_dead_letters_then_a_retry_converges(simulator):
    channel = sandbox_channel(simulator, retry_schedule_seconds=[1, 1, 1])
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=5)
    httpx.post(f"{simulator.url}/_control/faults", json={"store": "sandbox", "outage": True})
    for _ in range(3):
        due_now()
        outbox_drain_channel(channel_id=channel.pk)
    entry = OutboxEntry.objects.get()
    assert (entry.status, entry.attempts) == (OutboxStatus.DEAD, 3)
    assert Listing.objects.get().state == "dead"
    stock_receive(sku=sku, quantity=2)  # stock moves while the channel is down
    httpx.delete(f"{simulator.url}/_control/faults")
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).delete()  # only the DLQ remains
    assert dlq_retry(entries=[entry]) == 1
    outbox_drain_channel(channel_id=channel.pk)
    assert levels(simulator, "sandbox") == {"A": 7}  # the newest target, not the dead one
    assert Listing.objects.get().state == "in_sync"


def test_an_expired_claim_is_freed_for_another_worker(simulator):
    channel = sandbox_channel(simulator)
    stock_receive(sku=sku_create(code="A"), quantity=3)
    OutboxEntry.objects.update(
        status=OutboxStatus.IN_FLIGHT, claimed_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert outbox_sweep() == 1
    assert OutboxEntry.objects.get().status == OutboxStatus.PENDING
    outbox_drain_channel(channel_id=channel.pk)
    assert levels(simulator, "sandbox") == {"A": 3}


needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="drainer leases live in Redis (the embedded default runs one worker)",
)


@needs_redis
def test_one_worker_drains_a_channel_at_a_time(simulator):
    channel = sandbox_channel(simulator)
    stock_receive(sku=sku_create(code="A"), quantity=5)
    held = lease_take(drain_lease_key(channel.pk), 30_000)  # another worker is draining it
    assert held is not None
    assert outbox_drain_channel(channel_id=channel.pk) == 0  # returns at once
    assert OutboxEntry.objects.get().status == OutboxStatus.PENDING
    assert levels(simulator, "sandbox") == {}
    lease_release(held)
    assert outbox_drain_channel(channel_id=channel.pk) == 1
    assert levels(simulator, "sandbox") == {"A": 5}
    # Let go afterwards: the next drain is not refused.
    assert lease_take(drain_lease_key(channel.pk), 1000) is not None


@needs_redis
def test_a_drain_out_of_budget_keeps_the_channel_until_tokens_are_back(simulator):
    channel = sandbox_channel(simulator)
    channel.rate_limit_per_second, channel.rate_limit_burst = 0.5, 2  # 1 token, 0.45/s
    channel.save(update_fields=["rate_limit_per_second", "rate_limit_burst"])
    stock_receive(sku=sku_create(code="A"), quantity=5)
    outbox_drain_channel(channel_id=channel.pk)  # the push takes the token, the read cannot
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.PENDING and entry.attempts == 0
    assert entry.last_error.startswith("rate limit: next token")
    # Until the bucket refills, another drain task does not even claim.
    assert lease_take(drain_lease_key(channel.pk), 1000) is None


def test_a_confirmation_is_in_the_skus_trail_and_only_failures_are_audited(simulator):
    from channels.models import ChannelAudit
    from channels.selectors import sku_audit_trail

    channel = sandbox_channel(simulator)
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=5)
    outbox_drain_channel(channel_id=channel.pk)
    trail = sku_audit_trail(sku=sku)
    confirms = [entry for entry in trail if entry["type"] == "confirm"]
    assert [(c["channel"], c["data"]["quantity"]) for c in confirms] == [("sandbox", 5)]
    # A confirmation needs no audit row of its own: the entry records it.
    assert not ChannelAudit.objects.filter(kind__in=["confirm", "fail", "dead"]).exists()

    httpx.post(f"{simulator.url}/_control/faults", json={"store": "sandbox", "error_rate": 1.0})
    stock_receive(sku=sku, quantity=1)
    outbox_drain_channel(channel_id=channel.pk)
    failure = ChannelAudit.objects.get(kind__in=["fail", "dead"])
    assert failure.kind == "fail" and "retry" in failure.message
    assert any(entry["type"] == "fail" for entry in sku_audit_trail(sku=sku))


def test_a_listing_removed_while_its_push_was_out_does_not_stop_the_batch(simulator, monkeypatch):
    from channels.propagation import drain

    channel = sandbox_channel(simulator)
    for code, quantity in (("A", 5), ("B", 9)):
        stock_receive(sku=sku_create(code=code), quantity=quantity)
    real_record = drain._record

    def removed_meanwhile(channel, results):
        Listing.objects.filter(sku__code="A").delete()  # its entries go with it
        real_record(channel, results)

    monkeypatch.setattr(drain, "_record", removed_meanwhile)
    outbox_drain_channel(channel_id=channel.pk)
    listing = Listing.objects.get()
    assert (listing.sku.code, listing.state, listing.confirmed) == ("B", "in_sync", 9)
    assert not OutboxEntry.objects.exclude(status=OutboxStatus.CONFIRMED).exists()
