"""Propagation under faults, against the channel simulator over real HTTP.

In every case every listing converges to the hub's published quantity and the
simulator saw no rate-limit violation."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.drain import outbox_drain_channel, outbox_sweep
from ledger.services import stock_receive, stock_reserve
from tests.faults.support import assert_converged, connect, drain, stock


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "ebay", "amazon", "standard"])
def test_every_kind_converges_after_a_5xx_burst(sim, kind):
    channel = connect(sim, kind, f"{kind}-1")
    stock({"TEE-S": 5, "TEE-M": 8, "MUG": 13})
    sim.set_faults(channel.slug, error_rate=1.0, status=503)
    outbox_drain_channel(channel_id=channel.pk)
    entries = OutboxEntry.objects.filter(channel=channel)
    assert {e.status for e in entries} == {OutboxStatus.PENDING}
    assert all(e.last_error for e in entries)
    sim.clear_faults()
    drain(channel)
    assert_converged(sim, channel)


@pytest.mark.django_db
def test_a_429_storm_backs_off_at_least_60_seconds_then_converges(sim):
    channel = connect(sim, "woocommerce", "woo")
    stock({"TEE-S": 5, "MUG": 2})
    sim.set_faults(channel.slug, error_rate=1.0, status=429, retry_after=3)
    started = timezone.now()
    outbox_drain_channel(channel_id=channel.pk)
    for entry in OutboxEntry.objects.filter(channel=channel):
        assert entry.status == OutboxStatus.PENDING
        assert (entry.next_attempt_at - started).total_seconds() >= 48  # 60 s floor, -20% jitter
        assert "throttled" in entry.last_error
    sim.clear_faults()
    drain(channel)
    assert_converged(sim, channel)


@pytest.mark.django_db
def test_timeouts_are_retried_and_converge(sim):
    channel = connect(sim, "ebay", "bay", timeout_seconds=0.5)
    stock({"MUG": 4})
    sim.set_faults(channel.slug, timeout=True)
    outbox_drain_channel(channel_id=channel.pk)
    assert "unavailable" in OutboxEntry.objects.get(listing__sku__code="MUG").last_error
    sim.clear_faults()
    drain(channel)
    assert_converged(sim, channel)


@pytest.mark.django_db
def test_compare_and_set_refuses_to_clobber_a_sale_made_during_our_push(sim):
    channel = connect(sim, "shopify", "shop")
    stock({"MUG": 10})
    drain(channel)
    assert sim.levels("shop")["MUG"] == 10
    sim.place_order("shop", [{"sku": "MUG", "quantity": 3}])  # the channel sells...
    assert sim.levels("shop")["MUG"] == 7
    stock_receive(sku=Listing.objects.get(channel=channel, sku__code="MUG").sku, quantity=2)
    outbox_drain_channel(channel_id=channel.pk)  # ...while we push 12 expecting 10
    entry = OutboxEntry.objects.get(channel=channel, status=OutboxStatus.PENDING)
    assert "stale" in entry.last_error
    assert sim.levels("shop")["MUG"] == 7  # not clobbered
    assert Listing.objects.get(channel=channel, sku__code="MUG").confirmed == 7
    # The sale's webhook reaches the hub: the hub now publishes 12 - 3 = 9.
    mug = Listing.objects.get(channel=channel, sku__code="MUG").sku
    stock_reserve(sku=mug, quantity=3, order_id="S-1", channel_slug="shop", allow_oversell=True)
    drain(channel)
    assert sim.levels("shop")["MUG"] == 9
    assert_converged(sim, channel)


@pytest.mark.django_db
def test_an_outage_beyond_the_schedule_dead_letters_and_a_retry_converges(sim, api):
    channel = connect(sim, "standard", "store", retry_schedule_seconds=[1, 1])
    stock({"TEE-S": 3, "TEE-M": 1, "MUG": 6})
    sim.set_faults(channel.slug, outage=True)
    drain(channel, rounds=3)
    dead = OutboxEntry.objects.filter(channel=channel, status=OutboxStatus.DEAD)
    assert dead.count() == 3
    listed = api.get("/api/v1/dlq/?channel=store").json()["results"]
    assert {row["sku"] for row in listed} == {"TEE-S", "TEE-M", "MUG"}
    assert all(row["attempts"] == 2 and row["error"] for row in listed)
    sim.clear_faults()
    response = api.post("/api/v1/dlq/retry/", {"channel": "store"}, format="json")
    assert response.json()["count"] == 3
    drain(channel)
    assert_converged(sim, channel)
    assert api.get("/api/v1/dlq/").json()["count"] == 0


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_a_claim_another_worker_finishes(sim):
    channel = connect(sim, "woocommerce", "woo")
    stock({"TEE-S": 5, "TEE-M": 6, "MUG": 7})
    sim.set_faults(channel.slug, latency_ms=60_000)  # the push hangs: the worker is mid-batch
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "OUTBOX_CLAIM_LEASE_SECONDS": "2",
    }
    code = (
        "import django; django.setup();"
        "from channels.propagation.drain import outbox_drain_channel;"
        f"outbox_drain_channel(channel_id={channel.pk})"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "inventory_hub.settings"},
    )
    try:
        deadline = time.monotonic() + 30
        while not OutboxEntry.objects.filter(status=OutboxStatus.IN_FLIGHT).exists():
            assert time.monotonic() < deadline, "the worker never claimed its batch"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert OutboxEntry.objects.filter(status=OutboxStatus.IN_FLIGHT).count() == 3
    sim.clear_faults()
    assert outbox_sweep() == 0  # the lease has not expired yet: nothing is stolen
    time.sleep(2.5)
    outbox_sweep()
    assert not OutboxEntry.objects.filter(status=OutboxStatus.IN_FLIGHT).exists()
    drain(channel)
    assert_converged(sim, channel)


@pytest.mark.django_db
@pytest.mark.slow
def test_every_http_request_takes_a_token_so_the_channel_never_throttles_us(sim):
    catalogue = {f"SKU-{index:03d}": index + 1 for index in range(40)}
    channel = connect(sim, "ebay", "bay", levels=dict.fromkeys(catalogue, 0))
    stock(catalogue)
    for _ in range(10):
        drain(channel, rounds=1)
        OutboxEntry.objects.filter(channel=channel, status=OutboxStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
        if not OutboxEntry.objects.filter(channel=channel, status=OutboxStatus.PENDING).exists():
            break
        time.sleep(1)
    assert sim.stats()["stores"]["bay"]["requests"] > 40  # reads and writes per SKU
    assert_converged(sim, channel)
