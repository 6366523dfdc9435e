"""Redis stopped while webhooks arrive: they still get 200, and are processed once Redis
is back.

Real parts only: a private redis-server (killed and restarted on the same port), the
real intake view through Django's test client, the real sweeper, and a real Celery
worker subprocess reading the pytest database. Celery is the trigger, PostgreSQL is the
truth: messages published before the crash die with Redis (no persistence here), the
ones during the outage are never published, and the sweeper re-enqueues all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection
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

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
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
BROKER_ENV = ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL")


# --- a private redis-server ------------------------------------------------------------


def redis_binary() -> str | None:
    candidate = os.environ.get("TEST_REDIS_SERVER") or shutil.which("redis-server")
    return candidate if candidate and os.access(candidate, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """One redis-server on a fixed port: start, kill (SIGKILL, like a crash), start again."""

    def __init__(self, binary: str, directory: Path):
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + 15
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            while True:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{tail(self.log)}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def llen(self, queue: str) -> int:
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return int(client.llen(queue))
        finally:
            client.close()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- pointing the Celery app at it --------------------------------------------------------


def reset_broker_connections() -> None:
    """Drop every cached broker connection and producer of this process, so the next
    publish connects to whatever `broker_url` says now."""
    pool = celery_app._pool
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.force_close_all()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        if amqp._producer_pool is not None:
            with contextlib.suppress(Exception):
                amqp._producer_pool.force_close_all()
        amqp._producer_pool = None
    kombu.pools.reset()  # the process-wide pools the two above were taken from


@contextlib.contextmanager
def celery_broker(url: str, port: int) -> Iterator[None]:
    """Publish to `url` for the duration; the original broker (and clean pools) after."""
    conf = celery_app.conf
    saved = {key: conf.get(key) for key in ("broker_url", "broker_write_url", "task_always_eager")}
    # These environment variables would win over conf (celery.app.utils.Settings).
    env_saved = {key: os.environ.pop(key, None) for key in BROKER_ENV}
    reset_broker_connections()
    conf.broker_url, conf.broker_write_url, conf.task_always_eager = url, None, False
    try:
        assert f":{port}/" in celery_app.connection_for_write().as_uri()
        yield
    finally:
        reset_broker_connections()  # nothing may keep a socket to the private server
        for key, value in saved.items():
            conf[key] = value
        for key, value in env_saved.items():
            if value is not None:
                os.environ[key] = value


# --- a real worker -------------------------------------------------------------------------


def database_url() -> str:
    sd = connection.settings_dict
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = sd.get("HOST") or "127.0.0.1"
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(sd['NAME'], safe='')}"


def start_worker(redis_url: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # the pytest database, e.g. test_inventory_hub
        "REDIS_URL": redis_url,
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # The settings module this run uses (pytest-django exports it).
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "inventory_hub.settings"
        ),
        # Same keys as this process, whatever the environment or ./var holds.
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "CONN_MAX_AGE": "0",
    }
    for key in BROKER_ENV:
        env.pop(key, None)
    cmd = [
        sys.executable, "-m", "celery", "-A", "inventory_hub", "worker",
        "-Q", "intake", "--pool", "solo", "--concurrency", "1",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"outage-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


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
    client, tmp_path
):
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

            worker = start_worker(server.url, worker_log)
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
