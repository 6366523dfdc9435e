"""Real parts for fault tests: a private redis-server, the hub's processes as the Procfile
runs them (gunicorn, the intake and propagate Celery workers) against the pytest
database, the Celery app of this process pointed at the private broker, a fast beat, and
the channel simulator's stores connected to hub channels.

Shared by tests/faults and by the older fault tests in tests/channels.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import kombu.pools
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from bench.harness.processes import free_port, tail  # noqa: F401 - re-exported to the fault tests
from channels.intake.inbox import STUCK_AFTER, inbox_sweep
from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.propagation.drain import outbox_drain_channel, outbox_sweep
from channels.services import channel_create
from foundation import redis as flow_redis
from inventory_hub.celery import app as celery_app
from ledger.services import sku_create, stock_receive

ROOT = Path(__file__).resolve().parents[2]
BROKER_ENV = ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL")

# The Procfile's workers (tests outside the project start them the same way).
INTAKE = ["--queues", "intake", "--concurrency", "1"]
PROPAGATE = ["--queues", "propagate,default", "--pool", "threads", "--concurrency", "8"]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval=0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- a private redis-server ------------------------------------------------------------


def redis_binary() -> str | None:
    candidate = os.environ.get("TEST_REDIS_SERVER") or shutil.which("redis-server")
    return candidate if candidate and os.access(candidate, os.X_OK) else None


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

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)

    def llen(self, queue: str) -> int:
        client = self.client()
        try:
            return int(client.llen(queue))
        finally:
            client.close()


# --- pointing this process at it ----------------------------------------------------------


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


@contextlib.contextmanager
def flow_control_redis(url: str) -> Iterator[None]:
    """Wake-up flags, leases and token buckets of this process on `url` for the duration,
    so that this process and the workers share them, as they would in production."""
    flow_redis.redis_client.cache_clear()
    try:
        with override_settings(REDIS_URL=url):
            yield
    finally:
        flow_redis.redis_client.cache_clear()


# --- the hub's processes ------------------------------------------------------------------


def database_url() -> str:
    sd = connection.settings_dict
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = sd.get("HOST") or "127.0.0.1"
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(sd['NAME'], safe='')}"


def hub_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a hub process reading the pytest database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # the pytest database, e.g. test_inventory_hub
        "REDIS_URL": redis_url,
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CHANNEL_ALLOW_PRIVATE_NETWORKS": "1",  # the simulator listens on loopback
        # The settings module this run uses (pytest-django exports it).
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "inventory_hub.settings"
        ),
        # Same keys as this process, whatever the environment or ./var holds.
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        **extra,
    }
    for key in BROKER_ENV:
        env.pop(key, None)
    return env


def start_worker(
    redis_url: str, log: Path, options: list[str], **extra_env: str
) -> subprocess.Popen:
    """`celery -A inventory_hub worker <options>` in a process group of its own (so that
    a kill reaches its pool's children too)."""
    cmd = [
        sys.executable, "-m", "celery", "-A", "inventory_hub", "worker", *options,
        "--hostname", f"fault-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=hub_env(redis_url, **extra_env), stdin=subprocess.DEVNULL,
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


def start_web(redis_url: str, log: Path, port: int, **extra_env: str) -> subprocess.Popen:
    """gunicorn as the Procfile runs it (one worker: the simulator sends one at a time)."""
    cmd = [
        sys.executable, "-m", "gunicorn", "inventory_hub.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
    ]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=hub_env(redis_url, **extra_env), stdin=subprocess.DEVNULL,
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """kill -9 of the process and its children (a pool's processes), like a crash."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def worker_ready(log: Path, offset: int = 0) -> bool:
    """The worker logged that it consumes (after `offset` characters of its log)."""
    try:
        return " ready." in log.read_text(errors="replace")[offset:]
    except OSError:
        return False


def web_ready(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except httpx.HTTPError:
        return False
    return True


# --- the throwaway PostgreSQL of scripts/services.py ----------------------------------------


def services_cluster() -> Path | None:
    """The data directory of the cluster `scripts/services.py run` started, if this run's
    database is on it (None otherwise)."""
    services, pg_bin = os.environ.get("TEST_SERVICES_DIR"), os.environ.get("TEST_PG_BIN")
    if not services or not pg_bin:
        return None
    data = Path(services) / "pg" / "data"
    try:
        ports = re.findall(r"^port = (\d+)", (data / "postgresql.conf").read_text(), re.M)
    except OSError:
        return None
    if not ports or ports[-1] != str(connection.settings_dict.get("PORT")):
        return None
    return data


def restart_postgres(data: Path) -> None:
    """`pg_ctl restart -m fast`: every connection is cut, the server is back once this
    returns. As the `postgres` user when we are root (the server refuses root)."""
    pg_ctl = Path(os.environ["TEST_PG_BIN"]) / "pg_ctl"
    log = data.parent / "server.log"
    cmd = [str(pg_ctl), "restart", "-D", str(data), "-m", "fast", "-w", "-t", "60", "-l", str(log)]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    result = subprocess.run(cmd, cwd=data.parent, capture_output=True, text=True, timeout=90)
    if result.returncode:
        raise RuntimeError(f"pg_ctl restart failed:\n{result.stdout}{result.stderr}\n{tail(log)}")


class FastBeat(threading.Thread):
    """What `celery beat` does for recovery, every second instead of every 30: re-enqueue
    inbox rows left waiting (two seconds here, STUCK_AFTER there) and outbox work whose
    claim expired or whose retry is due. Survives a database restart."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True, name="fast-beat")
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    inbox_sweep(now=timezone.now() + STUCK_AFTER - timedelta(seconds=2))
                    outbox_sweep()
                except Exception:  # noqa: BLE001 - the database may be restarting
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


# --- channels on the simulator ------------------------------------------------------------

LEVELS = {"TEE-S": 0, "TEE-M": 0, "MUG": 0}


def connect(sim, kind, slug, levels=LEVELS, webhook_url="http://127.0.0.1:9/", **settings):
    """A simulator store and the hub channel that pushes to it (and, with a real
    `webhook_url`, receives its orders)."""
    store = sim.create_store(kind, slug, levels=levels, webhook_url=webhook_url)
    config = store["channel"]
    return channel_create(
        slug=slug,
        kind=kind,
        name=slug,
        webhook_secret=store.get("webhook_secret") or "",
        credentials=config["credentials"],
        settings={
            **config["settings"],
            "base_url": store["base_url"],
            "timeout_seconds": 2,
            **settings,
        },
    )


def stock(quantities):
    for code, quantity in quantities.items():
        stock_receive(sku=sku_create(code=code), quantity=quantity)


def drain(channel, rounds=8):
    for _ in range(rounds):
        OutboxEntry.objects.filter(channel=channel, status=OutboxStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
        outbox_drain_channel(channel_id=channel.pk)
        if not OutboxEntry.objects.filter(
            channel=channel, status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
        ).exists():
            return


def converged(sim, channel) -> bool:
    """The store shows what the hub publishes, and every listing is in sync."""
    published = dict(Listing.objects.filter(channel=channel).values_list("sku__code", "published"))
    shown = sim.levels(channel.slug)
    states = set(Listing.objects.filter(channel=channel).values_list("state", flat=True))
    return {sku: shown.get(sku) for sku in published} == published and states == {"in_sync"}


def assert_converged(sim, channel):
    published = dict(Listing.objects.filter(channel=channel).values_list("sku__code", "published"))
    shown = sim.levels(channel.slug)
    assert {sku: shown.get(sku) for sku in published} == published
    states = set(Listing.objects.filter(channel=channel).values_list("state", flat=True))
    assert states == {"in_sync"}
    assert sim.stats()["rate_limit_violations"] == 0
