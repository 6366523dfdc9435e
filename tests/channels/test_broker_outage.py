"""Redis stopped while webhooks arrive: they still get 200, and are processed once Redis
is back.

Real parts only: a private redis-server (killed and restarted on the same port), the
real intake view through Django's test client, the real sweeper, and a real Celery
worker subprocess reading the pytest database. Celery is the trigger, PostgreSQL is the
truth: messages published before the crash die with Redis (no persistence here), the
ones during the outage are never published, and the sweeper re-enqueues all of them.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.intake.inbox import inbox_sweep
from channels.intake.wake import WAKE_FLAG
from channels.models import InboundEvent, InboundStatus
from channels.services import channel_create
from channels.wakeup import flag_clear
from channels.webhooks.signing import make_standard_secret, sign_standard
from inventory_hub.celery import app as celery_app
from ledger.models import Reservation, StockLevel
from ledger.selectors import ledger_mismatches
from ledger.services import sku_create, stock_receive
from tests.faults.support import (
    PrivateRedis,
    celery_broker,
    redis_binary,
    start_worker,
    stop_worker,
    tail,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SLUG = "sandbox"
SKU_CODE = "OUTAGE-TEE"
STOCK = 100
# Quantities of the orders posted while Redis is up, then while it is down.
BEFORE = [1, 2, 3]
DURING = [2, 1, 4, 1, 2]
# The webhook must answer well inside a sender's timeout even with the broker gone
# (settings: CELERY_BROKER_CONNECTION_TIMEOUT = 2, publish retry off in queueing.py).
MAX_ACK_SECONDS = 0.5
PROCESS_TIMEOUT = 60.0
# One task at a time, and nothing a single worker does not need.
WORKER = ["-Q", "intake", "--pool", "solo", "--concurrency", "1", "--without-gossip",
          "--without-mingle", "--without-heartbeat"]  # fmt: skip


# --- webhooks ------------------------------------------------------------------------------


def post_order(client, secret: str, order_id: str, quantity: int) -> tuple[int, dict, float]:
    payload = {
        "type": "order.created",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "order_id": order_id,
            "lines": [{"sku": SKU_CODE, "quantity": quantity, "restock": False}],
        },
    }
    body = json.dumps(payload).encode()
    headers = sign_standard(body, secret, msg_id=f"msg_{order_id}", timestamp=int(time.time()))
    started = time.monotonic()
    response = client.post(
        f"/webhooks/{SLUG}/", body, content_type="application/json", headers=headers
    )
    return response.status_code, response.json(), time.monotonic() - started


# --- the test ------------------------------------------------------------------------------


def test_webhooks_during_a_redis_outage_answer_200_and_are_processed_once_it_is_back(
    client, tmp_path, settings
):
    # Each delivery asks Redis itself, at once: the queue can be read right after a post,
    # the acks below include the failed publish, and no folded ask from a background
    # thread lands after Redis is back (folding has its own test in test_intake.py).
    settings.INTAKE_WAKE_WINDOW_MS = 0
    binary = redis_binary()
    if binary is None:
        pytest.skip(
            "no redis-server: set TEST_REDIS_SERVER or put redis-server on PATH "
            "(scripts/services.py run does both)"
        )
    server = PrivateRedis(binary, tmp_path)
    worker_log = tmp_path / "worker.log"
    worker: subprocess.Popen | None = None
    server.start()
    try:
        with celery_broker(server.url, server.port):
            secret = make_standard_secret()
            sku = sku_create(code=SKU_CODE, title="Outage tee")
            stock_receive(sku=sku, quantity=STOCK)
            channel_create(slug=SLUG, kind="sandbox", name="Sandbox", webhook_secret=secret)

            # Redis up: accepted, and the burst published one wake-up (to a queue nobody
            # consumes yet): the flag folds the deliveries into one task.
            flag_clear(WAKE_FLAG)
            for index, quantity in enumerate(BEFORE):
                status, body, _ = post_order(client, secret, f"UP-{index}", quantity)
                assert (status, body["status"]) == (200, "accepted"), body
            assert server.llen("intake") == 1

            # Redis crashes (SIGKILL, no persistence: the queued messages die with it).
            server.kill()
            timings = []
            for index, quantity in enumerate(DURING):
                status, body, seconds = post_order(client, secret, f"DOWN-{index}", quantity)
                timings.append(round(seconds, 3))
                assert (status, body["status"]) == (200, "accepted"), body
            print(f"ack seconds while Redis is down: {timings}")
            assert max(timings) < MAX_ACK_SECONDS, f"acks during the outage took {timings} s"

            total = len(BEFORE) + len(DURING)
            events = InboundEvent.objects.filter(channel__slug=SLUG)
            assert events.count() == total
            assert set(events.values_list("status", flat=True)) == {InboundStatus.RECEIVED}

            # Redis is back, empty. The beat sweeper's job: re-enqueue what is stuck.
            server.start()
            assert server.llen("intake") == 0
            assert inbox_sweep(now=timezone.now() + timedelta(minutes=1)) == total
            assert server.llen("intake") == 1  # one task claims them all, in batches

            worker = start_worker(server.url, worker_log, WORKER, CONN_MAX_AGE="0")
            deadline = time.monotonic() + PROCESS_TIMEOUT
            while events.exclude(status=InboundStatus.PROCESSED).exists():
                assert worker.poll() is None, f"worker exited:\n{tail(worker_log)}"
                assert time.monotonic() < deadline, (
                    "events not processed in time: "
                    f"{sorted(events.values_list('status', flat=True))}\n{tail(worker_log)}"
                )
                time.sleep(0.25)

            level = StockLevel.objects.get(sku=sku)
            assert level.on_hand == STOCK
            assert level.committed == sum(BEFORE) + sum(DURING)  # each order exactly once
            assert Reservation.objects.filter(sku=sku).count() == total
            assert ledger_mismatches() == []
    finally:
        if worker is not None:
            stop_worker(worker)
        server.kill()
    # The app publishes to the session's broker again, not to the dead private server.
    assert f":{server.port}/" not in celery_app.connection_for_write().as_uri()
