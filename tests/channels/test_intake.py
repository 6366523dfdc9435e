"""Webhook intake through the real view: verified, deduplicated, ordered, never lost."""

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.intake import wake as intake_wake
from channels.intake.inbox import inbox_process, inbox_process_waiting
from channels.models import (
    ChannelOrderLine,
    Drift,
    InboundEvent,
    InboundStatus,
    Listing,
    OutboxEntry,
)
from channels.services import channel_create
from channels.wakeup import lease_release, lease_take_any
from channels.webhooks.signing import make_standard_secret, sign_shopify, sign_standard
from ledger.models import Movement, OversellIncident, Reservation, StockLevel
from ledger.selectors import ledger_mismatches
from ledger.services import sku_create, stock_receive

SECRET = make_standard_secret()
SHOPIFY_SECRET = "shpss_test_secret_0123456789"


def standard_channel(slug="web"):
    return channel_create(slug=slug, kind="sandbox", name="Web", webhook_secret=SECRET)


def post_standard(client, slug, payload, *, msg_id, timestamp=None, secret=SECRET):
    body = json.dumps(payload).encode()
    headers = sign_standard(body, secret, msg_id=msg_id, timestamp=timestamp or int(time.time()))
    return client.post(
        f"/webhooks/{slug}/",
        body,
        content_type="application/json",
        headers=headers,
    )


def order(kind, order_id, lines, restock=False):
    return {
        "type": f"order.{kind}",
        "timestamp": "2026-11-23T10:00:00Z",
        "data": {
            "order_id": order_id,
            "lines": [{"sku": s, "quantity": q, "restock": restock} for s, q in lines],
        },
    }


def process_all():
    for event_id in InboundEvent.objects.filter(status="received").values_list("id", flat=True):
        inbox_process(event_id=event_id)


def level(sku):
    return StockLevel.objects.get(sku=sku)


@pytest.mark.django_db
def test_a_signed_order_is_stored_then_reserved(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    response = post_standard(client, "web", order("created", "W-1", [("tee", 2)]), msg_id="m1")
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert level(sku).committed == 0  # nothing touches stock in the request
    process_all()
    assert level(sku).committed == 2
    assert InboundEvent.objects.get().status == InboundStatus.PROCESSED
    movement = Movement.objects.get(kind="reserve")
    assert (movement.source, movement.source_ref) == ("channel", "web:W-1")


@pytest.mark.django_db
def test_a_duplicate_delivery_answers_200_and_changes_nothing(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    payload = order("created", "W-1", [("TEE", 1)])
    for _ in range(3):
        assert post_standard(client, "web", payload, msg_id="same").status_code == 200
    process_all()
    assert InboundEvent.objects.count() == 1
    assert level(sku).committed == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "status", "error"),
    [
        ("flip", 401, "invalid_signature"),
        ("unsigned", 401, "invalid_signature"),
        ("stale", 401, "invalid_signature"),
        ("malformed_json", 400, "malformed"),
        ("unknown_slug", 404, "unknown_channel"),
        ("disabled", 404, "channel_disabled"),
        ("too_large", 413, "too_large"),
    ],
)
def test_bad_deliveries_are_refused_and_write_nothing(client, tamper, status, error):
    channel = standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    body = json.dumps(order("created", "W-1", [("TEE", 1)])).encode()
    now = int(time.time())
    slug = "web"
    if tamper == "malformed_json":
        body = b'{"type": "order.created", '
    elif tamper == "too_large":
        body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    headers = sign_standard(
        body, SECRET, msg_id="m1", timestamp=now - 600 if tamper == "stale" else now
    )
    if tamper == "flip":
        body = body.replace(b'"quantity": 1', b'"quantity": 9')
    elif tamper == "unsigned":
        headers = {}
    elif tamper == "unknown_slug":
        slug = "nowhere"
    elif tamper == "disabled":
        channel.enabled = False
        channel.save(update_fields=["enabled"])
    response = client.post(
        f"/webhooks/{slug}/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["message"]
    assert not InboundEvent.objects.exists()
    assert level(sku).committed == 0


@pytest.mark.django_db
def test_shopify_rotation_accepts_the_previous_secret(client):
    from channels.services import channel_update

    channel = channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret="old-secret")
    channel_update(channel=channel, webhook_secret=SHOPIFY_SECRET)
    body = json.dumps({"id": 1, "line_items": []}).encode()
    for secret, event_id in (("old-secret", "e1"), (SHOPIFY_SECRET, "e2")):
        headers = {
            **sign_shopify(body, secret),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Event-Id": event_id,
        }
        response = client.post(
            "/webhooks/shop/", body, content_type="application/json", headers=headers
        )
        assert response.status_code == 200
    bad = {**sign_shopify(body, "someone-else"), "X-Shopify-Topic": "orders/create"}
    assert (
        client.post(
            "/webhooks/shop/", body, content_type="application/json", headers=bad
        ).status_code
        == 401
    )


@pytest.mark.django_db
def test_a_cancel_before_its_order_is_remembered(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    post_standard(client, "web", order("cancelled", "W-9", [("TEE", 2)]), msg_id="c")
    process_all()
    post_standard(client, "web", order("created", "W-9", [("TEE", 2)]), msg_id="p")
    process_all()
    assert (level(sku).on_hand, level(sku).committed) == (5, 0)
    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_unknown_skus_are_kept_as_unmapped_not_dropped(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    post_standard(client, "web", order("created", "W-1", [("TEE", 1), ("GHOST", 4)]), msg_id="m")
    process_all()
    event = InboundEvent.objects.get()
    assert (event.status, event.unmapped_skus) == ("unmapped", ["GHOST"])
    assert level(sku).committed == 1


@pytest.mark.django_db
def test_an_oversell_is_recorded_and_opens_an_incident(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=1)
    post_standard(client, "web", order("created", "W-1", [("TEE", 3)]), msg_id="m")
    process_all()
    assert level(sku).on_hand - level(sku).committed == -2
    incident = OversellIncident.objects.get()
    assert incident.orders == [{"channel": "web", "order_id": "W-1", "quantity": 2}]


@pytest.mark.django_db
def test_level_reports_stale_echo_and_drift(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    listing = Listing.objects.get(sku=sku)
    assert listing.published == 5

    def report(quantity, when, msg_id):
        payload = {
            "type": "inventory.level",
            "timestamp": when,
            "data": {"sku": "TEE", "quantity": quantity},
        }
        post_standard(client, "web", payload, msg_id=msg_id)
        process_all()
        return InboundEvent.objects.get(dedupe_key=msg_id).status

    assert report(5, "2026-11-23T10:00:00Z", "echo") == "processed"
    assert not Drift.objects.exists()
    assert report(7, "2026-11-23T10:05:00Z", "edit") == "processed"
    drift = Drift.objects.get()
    assert (drift.hub_quantity, drift.channel_quantity, drift.status) == (5, 7, "open")
    assert report(2, "2026-11-23T10:01:00Z", "late") == "ignored_stale"
    assert Drift.objects.count() == 1


# Valid life-cycles of one order, in order; any arrival order must end the same.
LIFECYCLES = [
    ["created"],
    ["created", "cancelled"],
    ["created", "fulfilled"],
    ["created", "fulfilled", "refunded"],
    ["created", "refunded"],
]
counter = iter(range(10**9))


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_arrival_order_gives_the_in_order_ledger(client, data):
    run = next(counter)
    standard_channel(f"web{run}")
    sku = sku_create(code=f"S{run}")
    stock_receive(sku=sku, quantity=10)
    lifecycle = data.draw(st.sampled_from(LIFECYCLES))
    arrival = data.draw(st.permutations(lifecycle))
    for index, kind in enumerate(arrival):
        payload = order(kind, "O-1", [(sku.code, 3)], restock=(kind == "refunded"))
        assert (
            post_standard(client, f"web{run}", payload, msg_id=f"{run}-{kind}-{index}").status_code
            == 200
        )
        process_all()
    expected = {
        ("created",): (10, 3),
        ("created", "cancelled"): (10, 0),
        ("created", "fulfilled"): (7, 0),
        ("created", "fulfilled", "refunded"): (10, 0),
        ("created", "refunded"): (10, 0),
    }[tuple(lifecycle)]
    current = level(sku)
    assert (current.on_hand, current.committed) == expected
    assert ChannelOrderLine.objects.filter(channel__slug=f"web{run}").count() == 1
    assert ledger_mismatches() == []


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_19_concurrent_deliveries_of_one_shopify_order_reserve_once():
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret=SHOPIFY_SECRET)
    sku = sku_create(code="MUG")
    stock_receive(sku=sku, quantity=10)
    body = json.dumps(
        {
            "id": 4501,
            "updated_at": "2026-11-23T10:00:00Z",
            "line_items": [{"id": 1, "sku": "MUG", "quantity": 2, "variant_id": 7}],
        }
    ).encode()
    headers = {
        **sign_shopify(body, SHOPIFY_SECRET),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-4501",
        "X-Shopify-Webhook-Id": "delivery",
    }
    barrier = threading.Barrier(19)

    def deliver(_):
        try:
            barrier.wait(timeout=30)
            response = Client().post(
                "/webhooks/shop/", body, content_type="application/json", headers=headers
            )
            event_id = response.json().get("event_id")
            if event_id:
                inbox_process(event_id=event_id)  # every worker tries to process too
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=19) as pool:
        statuses = Counter(pool.map(deliver, range(19)))
    assert statuses == {200: 19}
    assert InboundEvent.objects.count() == 1
    assert Reservation.objects.filter(sku=sku).count() == 1
    assert level(sku).committed == 2
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_settled_inbox_rows_are_kept_30_days_then_purged(client):
    from datetime import timedelta

    from django.utils import timezone

    from channels.intake.inbox import inbox_purge

    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    post_standard(client, "web", order("created", "W-1", [("TEE", 1)]), msg_id="old")
    post_standard(client, "web", order("created", "W-2", [("GHOST", 1)]), msg_id="failing")
    process_all()
    InboundEvent.objects.filter(dedupe_key="failing").update(status="dead")
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(days=31))
    assert inbox_purge(keep_days=7) == 1  # 7 is below the floor: 30 days apply
    assert list(InboundEvent.objects.values_list("dedupe_key", flat=True)) == ["failing"]
    assert level(sku).committed == 1  # the ledger keeps its history


# --- batches: many deliveries per transaction ----------------------------------------------


@pytest.mark.django_db
def test_a_batch_applies_every_delivery_and_queues_one_push_per_listing(client):
    standard_channel()
    channel_create(slug="shop", kind="standard", name="Shop", webhook_secret=SECRET)
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=100)
    versions = dict(Listing.objects.values_list("channel__slug", "target_version"))
    for index in range(12):
        post_standard(
            client, "web", order("created", f"W-{index}", [("TEE", 2)]), msg_id=f"b{index}"
        )

    assert inbox_process_waiting(batch_size=5) == 12  # three batches: 5, 5 and 2

    assert level(sku).committed == 24
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    for listing in Listing.objects.all():
        assert listing.published == 76
        # One refresh per batch, not one per sale.
        assert listing.target_version == versions[listing.channel.slug] + 3
        assert OutboxEntry.objects.filter(listing=listing, status="pending").count() == 1
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_a_batch_costs_fewer_statements_per_delivery_than_one_at_a_time(client):
    standard_channel()
    channel_create(slug="shop", kind="standard", name="Shop", webhook_secret=SECRET)
    skus = [sku_create(code=f"TEE-{index}") for index in range(4)]
    for sku in skus:
        stock_receive(sku=sku, quantity=100)

    def post_orders(prefix, count):
        for index in range(count):
            code = skus[index % len(skus)].code
            payload = order("created", f"{prefix}-{index}", [(code, 1)])
            post_standard(client, "web", payload, msg_id=f"{prefix}{index}")

    post_orders("one", 10)
    with CaptureQueriesContext(connection) as one_at_a_time:
        process_all()
    one_at_a_time_count = len(one_at_a_time)  # now: the log is capped and shared
    post_orders("batch", 10)
    with CaptureQueriesContext(connection) as batched:
        assert inbox_process_waiting(batch_size=10) == 10
    assert len(batched) < 0.75 * one_at_a_time_count
    assert Reservation.objects.count() == 20


@pytest.mark.django_db
def test_a_failing_delivery_rolls_back_alone_and_is_retried(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=10)
    post_standard(client, "web", order("created", "W-1", [("TEE", 1)]), msg_id="ok-1")
    # Stored (it passed the door once) but it cannot be applied: a broken body.
    broken = InboundEvent.objects.create(
        channel=InboundEvent.objects.get().channel, dedupe_key="broken", topic="order.created",
        body="{not json",
    )  # fmt: skip
    post_standard(client, "web", order("created", "W-2", [("TEE", 2)]), msg_id="ok-2")

    assert inbox_process_waiting(batch_size=10) == 3

    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == (InboundStatus.FAILED, 1)
    assert "JSONDecodeError" in broken.error and broken.next_attempt_at is not None
    assert level(sku).committed == 3  # both good deliveries, nothing from the broken one
    assert set(InboundEvent.objects.exclude(pk=broken.pk).values_list("status", flat=True)) == {
        InboundStatus.PROCESSED
    }
    assert inbox_process_waiting() == 0  # its retry is not due yet


@pytest.mark.django_db
def test_a_level_report_after_a_sale_in_the_same_batch_is_an_echo_not_drift(client):
    standard_channel()
    sku = sku_create(code="TEE")
    stock_receive(sku=sku, quantity=5)
    post_standard(client, "web", order("created", "W-1", [("TEE", 2)]), msg_id="sale")
    report = {
        "type": "inventory.level",
        "timestamp": "2026-11-23T10:05:00Z",
        "data": {"sku": "TEE", "quantity": 3},  # the channel shows the sale too
    }
    post_standard(client, "web", report, msg_id="level")

    assert inbox_process_waiting(batch_size=10) == 2

    assert Listing.objects.get(sku=sku).published == 3
    assert not Drift.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(INBOX_PROCESSORS=2)  # two intake workers at once
def test_concurrent_batches_touching_the_same_skus_in_opposite_orders_never_deadlock(
    client, caplog
):
    standard_channel()
    skus = [sku_create(code=f"S{index}") for index in range(10)]
    for sku in skus:
        stock_receive(sku=sku, quantity=100)
    # Oldest twenty sell S0..S9 twice, the next twenty S9..S0 twice: two workers claiming
    # one batch each would lock the levels in opposite orders, one delivery at a time.
    codes = [s.code for s in skus] * 2 + [s.code for s in reversed(skus)] * 2
    for index, code in enumerate(codes):
        post_standard(
            client, "web", order("created", f"W-{index}", [(code, 1)]), msg_id=f"c{index}"
        )
    barrier = threading.Barrier(2)

    def worker(_):
        try:
            barrier.wait(timeout=30)
            return inbox_process_waiting(batch_size=20, max_batches=1)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        handled = sorted(pool.map(worker, range(2)))

    assert handled == [20, 20]
    # Both batches committed as batches: none was a deadlock victim applied one by one.
    assert not [r for r in caplog.records if "applying each alone" in r.getMessage()]
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert {level(sku).committed for sku in skus} == {4}
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_delivery_while_the_processor_works_publishes_nothing_and_is_not_missed(
    client, monkeypatch
):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run through scripts/services.py)")
    published = []
    monkeypatch.setattr(intake_wake, "enqueue", lambda task: published.append(task))
    monkeypatch.setattr(django_settings, "INTAKE_WAKE_WINDOW_MS", 0)  # at once, to see it
    standard_channel()
    stock_receive(sku=sku_create(code="A"), quantity=5)
    busy = lease_take_any(intake_wake.processor_leases(), 10_000)  # another worker is at it
    post_standard(client, "web", order("created", "W-1", [("A", 1)]), msg_id="m1")
    assert published == []
    assert inbox_process_waiting() == 0  # no slot free: this task leaves it to the holder
    # The holder lets go, then finds the flag the delivery raised and goes round again.
    lease_release(busy)
    assert inbox_process_waiting() == 1
    assert InboundEvent.objects.get().status == "processed"
    post_standard(client, "web", order("created", "W-2", [("A", 1)]), msg_id="m2")
    assert published == ["channels.tasks.process_inbox"]  # nobody at work: a task is sent


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_deliveries_wakes_the_worker_once_per_window_and_misses_none(
    client, monkeypatch
):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (run through scripts/services.py)")
    rounds, published = [], []
    monkeypatch.setattr(django_settings, "INTAKE_WAKE_WINDOW_MS", 200)
    monkeypatch.setattr(intake_wake, "enqueue", lambda task: published.append(task))
    real_round = intake_wake.request_processing
    monkeypatch.setattr(intake_wake, "request_processing", lambda: (rounds.append(1), real_round()))
    standard_channel()
    stock_receive(sku=sku_create(code="A"), quantity=50)

    def delivered_and_woken(first: int, count: int) -> None:
        for number in range(first, first + count):
            answer = post_standard(
                client, "web", order("created", f"W-{number}", [("A", 1)]), msg_id=f"m{number}"
            )
            assert answer.status_code == 200
        deadline = time.monotonic() + 5
        while not published and time.monotonic() < deadline:
            time.sleep(0.01)
        assert published == [intake_wake.PROCESS_TASK]  # one task for the burst
        assert inbox_process_waiting() == count  # the worker's round finds every delivery
        published.clear()

    delivered_and_woken(1, 10)
    assert 1 <= len(rounds) < 10  # folded: not one Redis call per delivery
    # A delivery after the round is answered by a round of its own.
    before = len(rounds)
    delivered_and_woken(11, 1)
    assert len(rounds) == before + 1
    assert InboundEvent.objects.filter(status="processed").count() == 11


@pytest.mark.django_db
@pytest.mark.parametrize("batched", [False, True])
def test_a_sale_on_a_channel_takes_the_units_off_what_it_shows_and_it_is_pushed_back_up(
    client, batched
):
    """A fixed allocation of 10 does not move with the channel's own sale of 3, but the
    channel now shows 7: the hub notes it and queues a push of 10 again."""
    web = channel_create(
        slug="web",
        kind="sandbox",
        name="Web",
        webhook_secret=SECRET,
        allocation={"mode": "fixed", "fixed_quantity": 10},
    )
    other = channel_create(slug="other", kind="sandbox", name="Other")
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=100)
    OutboxEntry.objects.all().delete()  # as if confirmed
    Listing.objects.filter(channel=web).update(confirmed=10, state="in_sync")
    Listing.objects.filter(channel=other).update(confirmed=100, state="in_sync")
    post_standard(client, "web", order("created", "W-1", [("A", 3)]), msg_id="m1")
    if batched:  # with another delivery, in one batch
        post_standard(client, "web", order("created", "W-2", [("A", 1)]), msg_id="m2")
        assert inbox_process_waiting() == 2
    else:
        process_all()
    sold = 4 if batched else 3
    listing = Listing.objects.get(channel=web)
    assert (listing.published, listing.confirmed, listing.state) == (10, 10 - sold, "pending")
    assert OutboxEntry.objects.get(listing=listing).quantity == 10
    # The other channel sold nothing: it still shows what it showed; it follows the pool.
    assert Listing.objects.get(channel=other).confirmed == 100
    assert OutboxEntry.objects.get(channel=other).quantity == 100 - sold


@pytest.mark.django_db
def test_a_replayed_sale_is_not_taken_off_the_channel_twice(client):
    web = standard_channel()
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=100)
    Listing.objects.filter(channel=web).update(confirmed=100, state="in_sync")
    post_standard(client, "web", order("created", "W-1", [("A", 3)]), msg_id="m1")
    process_all()
    # The same order again (another delivery id): the line is reserved already.
    post_standard(client, "web", order("created", "W-1", [("A", 3)]), msg_id="m2")
    process_all()
    assert Listing.objects.get(channel=web).confirmed == 97
