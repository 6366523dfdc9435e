"""Signed Shopify webhooks acknowledged per second by the intake view, against an HMAC-only view.

    python3 scripts/services.py run -- uv run python -m bench.ingest [--seconds 10]

A real gunicorn serves the hub (`gunicorn inventory_hub.wsgi --workers 2 --threads 8`,
DEBUG=0, BENCH_ROUTES=1) on the benchmark's own database; `--threads` (16) client threads
with one keep-alive httpx connection each post signed Shopify `orders/create` deliveries,
each with its own X-Shopify-Event-Id and order id.

intake     `POST /webhooks/bench-shop/`: the hub's webhook view (channel lookup, HMAC,
           canonical-event parse, inbox INSERT + commit, then the intake wake-up: a Redis
           SET NX, and a Celery publish when it raised the flag), answering 200
           {"status": "accepted"}.
hmac-only  `POST /bench/hmac-only/?channel=bench-shop` (bench/views.py): the same channel
           lookup and `verify_shopify` on the same server, then 200; nothing stored.

Throughput is closed-loop (each client sends its next delivery when the last is
answered), the two sides alternating in slices (`--rounds`). Latency is open-loop: a
fixed schedule of `--rate` (500) requests/s against intake for `--latency-seconds`; each
ack latency runs from the request's scheduled time, so a server that falls behind shows
it (no coordinated omission). No worker runs: the events stay `received`; every 200 must
have its inbox row (`inbox_rows == acks`).

The server's REDIS_URL points at database `--redis-db` (15) of the same Redis, so no
development worker (on db 0) can pick up a task naming a row of the throwaway database;
its queue is counted (`broker_messages`: one wake-up per flag raised, as no worker clears
it) and deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from bench import common

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
CHANNEL_SLUG = "bench-shop"
SKU_CODE = "BENCH-TEE"
INTAKE_PATH = f"/webhooks/{CHANNEL_SLUG}/"
HMAC_ONLY_PATH = f"/bench/hmac-only/?channel={CHANNEL_SLUG}"
ROOT = Path(__file__).resolve().parent.parent
# Queues the server's Celery app may publish to (settings.CELERY_TASK_ROUTES + default).
SERVER_QUEUES = ("intake", "propagate", "reconcile", "default")


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(__doc__.splitlines()[0], seconds=10.0, threads=16)
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating hmac-only/intake slices per side"
    )
    parser.add_argument(
        "--rate", type=float, default=500.0, help="offered requests/s of the latency phase"
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=None,
        help="measured seconds of the latency phase (default: --seconds)",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn --workers")
    parser.add_argument("--server-threads", type=int, default=8, help="gunicorn --threads")
    parser.add_argument(
        "--redis-db", type=int, default=15, help="Redis database the server publishes to"
    )
    return parser


# --- deliveries ------------------------------------------------------------------------------


class Deliveries:
    """Signed `orders/create` deliveries, each with a new event id and order id."""

    def __init__(self, secret: str):
        self.secret = secret
        self._numbers = itertools.count(1)  # next() is atomic in CPython
        self._run = uuid.uuid4().hex[:12]

    def next(self) -> tuple[bytes, dict[str, str]]:
        from channels.webhooks.signing import sign_shopify

        number = next(self._numbers)
        order_id = 820_000_000_000 + number
        now = datetime.now(UTC).isoformat(timespec="seconds")
        body = json.dumps(
            {
                "id": order_id,
                "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
                "name": f"#B{number}",
                "email": f"buyer{number}@example.com",
                "created_at": now,
                "updated_at": now,
                "currency": "EUR",
                "financial_status": "paid",
                "fulfillment_status": None,
                "total_price": "19.90",
                "line_items": [
                    {
                        "id": order_id * 10 + 1,
                        "variant_id": 4_400_000_001,
                        "product_id": 7_700_000_001,
                        "sku": SKU_CODE,
                        "title": "Benchmark tee",
                        "quantity": 1,
                        "price": "19.90",
                        "requires_shipping": True,
                        "fulfillment_service": "manual",
                    }
                ],
                "shipping_address": {
                    "name": "Bench Buyer",
                    "address1": "1 Load Street",
                    "city": "Berlin",
                    "zip": "10115",
                    "country_code": "DE",
                },
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Event-Id": f"{self._run}-{number}",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Shop-Domain": "bench.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
            "X-Shopify-Triggered-At": now,
            **sign_shopify(body, self.secret),
        }
        return body, headers


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


def send(client, path: str, deliveries: Deliveries, expect: str) -> None:
    """One delivery; anything but 200 with the expected status is an error."""
    body, headers = deliveries.next()
    response = client.post(path, content=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    status = response.json().get("status")
    if status != expect:
        raise RuntimeError(f"{path}: status {status!r}, expected {expect!r}")


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_database_url() -> str:
    """DATABASE_URL of the throwaway database this process created."""
    from django.db import connection

    sd = connection.settings_dict
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = sd.get("HOST") or ""
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    options = {
        key: value
        for key, value in (sd.get("OPTIONS") or {}).items()
        if key not in common.DJANGO_ONLY_OPTIONS and isinstance(value, str | int)
    }
    if host.startswith("/"):  # a unix-socket directory travels as ?host=
        options["host"], host = host, ""
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{auth}{quote(host, safe='')}{port}/{quote(sd['NAME'], safe='')}{query}"


def server_redis_url(db: int) -> str:
    return urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{db}").geturl()


@contextlib.contextmanager
def server_redis(db: int) -> Iterator[tuple[str, dict[str, int]]]:
    """The server's broker database: must start without our queues, is emptied after.

    Yields the URL and a dict that receives the queue lengths found at the end.
    """
    import redis

    url = server_redis_url(db)
    keys = [*SERVER_QUEUES, *(f"_kombu.binding.{queue}" for queue in SERVER_QUEUES)]
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    lengths: dict[str, int] = {}
    try:
        busy = [queue for queue in SERVER_QUEUES if client.llen(queue)]
        if busy:
            raise common.BenchError(
                f"Redis database {db} already holds messages in {', '.join(busy)}: someone "
                "uses it. Pick another one with --redis-db."
            )
        yield url, lengths
    finally:
        with contextlib.suppress(redis.RedisError):
            lengths.update({queue: int(client.llen(queue)) for queue in SERVER_QUEUES})
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def gunicorn(args: argparse.Namespace, redis_url: str, log_path: Path) -> Iterator[tuple[str, int]]:
    """gunicorn serving the hub on the benchmark database; yields its base URL and pid."""
    import httpx
    from django.conf import settings

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": common.SETTINGS_MODULE,
        "DATABASE_URL": bench_database_url(),
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "BENCH_ROUTES": "1",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # The channel's secret is encrypted with this key: the server must hold the same.
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    for key in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL"):
        env.pop(key, None)
    cmd = [
        sys.executable, "-m", "gunicorn", "inventory_hub.wsgi",
        "--workers", str(args.server_workers), "--threads", str(args.server_threads),
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise common.BenchError(f"gunicorn exited:\n{tail(log_path)}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{base_url}/healthz", timeout=5)
                break
            if time.monotonic() > deadline:
                raise common.BenchError(f"gunicorn did not answer in 60 s:\n{tail(log_path)}")
            time.sleep(0.1)
        common.log(
            f"gunicorn on {base_url} (pid {proc.pid}, {args.server_workers} workers x "
            f"{args.server_threads} threads)"
        )
        yield base_url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def check_routes(base_url: str, deliveries: Deliveries) -> None:
    import httpx

    with httpx.Client(base_url=base_url, timeout=10) as client:
        body, headers = deliveries.next()
        response = client.post(HMAC_ONLY_PATH, content=body, headers=headers)
        if response.status_code == 404 and "json" not in response.headers.get("content-type", ""):
            raise common.BenchError(
                "the server does not route POST /bench/hmac-only/ although it runs with "
                "BENCH_ROUTES=1: wire bench.views.HmacOnlyView in inventory_hub/urls.py "
                "(see bench/views.py)."
            )
        if response.status_code != 200:
            raise common.BenchError(
                f"hmac-only answered HTTP {response.status_code}: {response.text[:300]}"
            )


# --- closed loop: acknowledgements per second -------------------------------------------------


def closed_loop_side(
    base_url: str,
    path: str,
    deliveries: Deliveries,
    expect: str,
    counters: list[Counter],
) -> tuple[Callable, Callable, Callable]:
    import httpx

    def setup(index: int) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=10)

    def step(client: httpx.Client) -> None:
        send(client, path, deliveries, expect)
        for counter in counters:
            counter.add()

    def teardown(client: httpx.Client) -> None:
        client.close()

    return setup, step, teardown


def measure(
    name: str,
    args: argparse.Namespace,
    seconds: float,
    sides: dict[str, tuple[Callable, Callable, Callable]],
    meter: CpuMeter,
) -> common.Phase:
    side = name.split()[0]
    setup, step, teardown = sides[side]
    with meter.phase(side):
        return common.run_threads(
            name,
            threads=args.threads,
            seconds=seconds,
            warmup=args.warmup,
            setup=setup,
            step=step,
            teardown=teardown,
        )


# --- where the CPU goes ------------------------------------------------------------------------


def process_cpu(pid: int) -> float | None:
    """utime + stime of one process in seconds, None if it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU milliseconds per request on each side of the closed-loop phases: the client
    (this process), gunicorn (master and workers) and the PostgreSQL backends serving the
    benchmark database (when PostgreSQL runs on this machine). On a small machine these
    share the cores, which bounds the request rate whatever the concurrency."""

    def __init__(self, server_pid: int):
        from django.db import connection

        self.server_pid = server_pid
        host = connection.settings_dict.get("HOST") or ""
        self.local_db = host in ("", "127.0.0.1", "localhost", "::1") or host.startswith("/")
        self.requests: dict[str, Counter] = {}
        self.spent: dict[str, dict[str, float]] = {}

    def count(self, side: str) -> Counter:
        return self.requests.setdefault(side, Counter())

    def _server_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.server_pid}/task/{self.server_pid}/children")
            return [self.server_pid, *map(int, children.read_text().split())]
        except OSError:
            return [self.server_pid]

    def _db_pids(self) -> list[int]:
        if not self.local_db:
            return []
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return [row[0] for row in cursor.fetchall()]

    def _sample(self) -> dict[str, dict[int, float]]:
        sample = {"client": {0: time.process_time()}}
        for part, pids in (("server", self._server_pids()), ("database", self._db_pids())):
            sample[part] = {pid: cpu for pid in pids if (cpu := process_cpu(pid)) is not None}
        return sample

    @contextlib.contextmanager
    def phase(self, side: str) -> Iterator[None]:
        before = self._sample()
        yield
        after = self._sample()
        spent = self.spent.setdefault(side, {"client": 0.0, "server": 0.0, "database": 0.0})
        for part, values in after.items():
            spent[part] += sum(cpu - before[part].get(pid, 0.0) for pid, cpu in values.items())

    def per_request_ms(self) -> dict[str, dict[str, float | None]]:
        result: dict[str, dict[str, float | None]] = {}
        for side, spent in self.spent.items():
            requests = self.requests[side].value or 1
            result[side] = {part: round(cpu / requests * 1000, 2) for part, cpu in spent.items()}
            if not self.local_db:
                result[side]["database"] = None
        return result


# --- open loop: latency at a fixed offered rate ------------------------------------------------


@dataclass
class Latency:
    offered_rps: float
    seconds: float
    ack_ms: list[float] = field(default_factory=list)  # from the scheduled send time
    service_ms: list[float] = field(default_factory=list)  # from the actual send time
    completed_in_window: int = 0  # answers that arrived inside the measured window
    overrun_s: float = 0.0  # how long after the window the last answer came
    errors: list[str] = field(default_factory=list)

    @property
    def achieved_rps(self) -> float:
        return self.completed_in_window / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


def open_loop(
    base_url: str,
    path: str,
    deliveries: Deliveries,
    expect: str,
    acks: Counter,
    *,
    clients: int,
    rate: float,
    seconds: float,
    warmup: float,
) -> Latency:
    """Request n is due at t0 + n / rate; whichever client is free sends it (late if
    none is), and its latency counts from when it was due."""
    import httpx

    result = Latency(offered_rps=rate, seconds=seconds)
    tickets = itertools.count()
    window: dict[str, float] = {}
    per_thread: list[tuple[list[float], list[float], list[float]]] = [
        ([], [], []) for _ in range(clients)
    ]

    def open_window() -> None:
        window["t0"] = time.monotonic() + 0.05
        window["measure_from"] = window["t0"] + warmup
        window["end"] = window["measure_from"] + seconds

    barrier = threading.Barrier(clients, action=open_window)

    def body(index: int) -> None:
        acked, served, finished = per_thread[index]
        with httpx.Client(base_url=base_url, timeout=10) as client:
            barrier.wait()
            t0, measure_from, end = window["t0"], window["measure_from"], window["end"]
            while True:
                due = t0 + next(tickets) / rate
                if due >= end:
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent = time.monotonic()
                try:
                    send(client, path, deliveries, expect)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    result.errors.append(f"latency: {exc!r}")
                    continue
                done = time.monotonic()
                acks.add()
                finished.append(done)
                if due >= measure_from:
                    acked.append((done - due) * 1000)
                    served.append((done - sent) * 1000)

    threads = [
        threading.Thread(target=body, args=(index,), name=f"latency-{index}", daemon=True)
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for acked, served, finished in per_thread:
        result.ack_ms += acked
        result.service_ms += served
        result.completed_in_window += sum(
            window["measure_from"] <= done < window["end"] for done in finished
        )
        if finished:
            result.overrun_s = max(result.overrun_s, finished[-1] - window["end"])
    common.log(
        f"latency: offered {rate:g}/s for {seconds:g}s, achieved {result.achieved_rps:.1f}/s "
        f"(last answer {result.overrun_s:.2f}s after the window), "
        f"ack p50 {percentile(result.ack_ms, 50)} ms p99 {percentile(result.ack_ms, 99)} ms "
        f"(service p99 {percentile(result.service_ms, 99)} ms), {len(result.errors)} errors"
    )
    for error in result.errors[:10]:
        common.log(f"error: {error}")
    return result


# --- in-process diagnostics (--breakdown / --profile) -----------------------------------------


def diagnose_intake(args: argparse.Namespace, deliveries: Deliveries) -> None:
    """Where one intake request spends its time, through the view in this process."""
    from django.test import Client

    def setup(index: int) -> Client:
        return Client(SERVER_NAME="127.0.0.1")

    def step(client: Client) -> None:
        body, headers = deliveries.next()
        response = client.post(
            INTAKE_PATH, body, content_type="application/json", headers=headers, secure=True
        )
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.content[:300]!r}")

    common.diagnose(args, "intake view (in-process)", setup, step)


# --- the benchmark ---------------------------------------------------------------------------


def quiet_clients() -> None:
    """httpx logs every request at INFO: thousands of lines a second, and client CPU."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def prepare() -> str:
    """A Shopify channel with a fresh secret. No SKU: nothing is processed, only stored."""
    import secrets

    from django.db import connections

    from channels.models import ChannelKind
    from channels.services import channel_create

    secret = f"shpss_{secrets.token_hex(16)}"
    channel_create(
        slug=CHANNEL_SLUG, kind=ChannelKind.SHOPIFY, name="Benchmark shop", webhook_secret=secret
    )
    connections.close_all()  # the server is what talks to the database from now on
    return secret


def run(args: argparse.Namespace) -> dict:
    from channels.models import InboundEvent

    quiet_clients()
    secret = prepare()
    deliveries = Deliveries(secret)
    acks = Counter()
    rounds = max(1, args.rounds)
    slice_seconds = args.seconds / rounds
    latency_seconds = args.latency_seconds if args.latency_seconds is not None else args.seconds
    log_path = Path(tempfile.mkdtemp(prefix="bench-ingest-")) / "gunicorn.log"

    with server_redis(args.redis_db) as (redis_url, queue_lengths):
        with gunicorn(args, redis_url, log_path) as (base_url, server_pid):
            check_routes(base_url, deliveries)
            meter = CpuMeter(server_pid)
            sides = {
                "hmac_only": closed_loop_side(
                    base_url, HMAC_ONLY_PATH, deliveries, "verified", [meter.count("hmac_only")]
                ),
                "intake": closed_loop_side(
                    base_url, INTAKE_PATH, deliveries, "accepted", [acks, meter.count("intake")]
                ),
            }
            baseline_phases, intake_phases = [], []
            for round_no in range(rounds):
                tag = f"round {round_no + 1}/{rounds}"
                for side, phases in (("hmac_only", baseline_phases), ("intake", intake_phases)):
                    phases.append(measure(f"{side} {tag}", args, slice_seconds, sides, meter))
            latency = open_loop(
                base_url,
                INTAKE_PATH,
                deliveries,
                "accepted",
                acks,
                clients=args.threads,
                rate=args.rate,
                seconds=latency_seconds,
                warmup=args.warmup,
            )
        server_errors = [line for line in tail(log_path, 200).splitlines() if "Traceback" in line]
    cpu = meter.per_request_ms()
    common.log(f"CPU ms per request: {cpu}")
    baseline = common.combine("hmac_only", baseline_phases)
    intake = common.combine("intake", intake_phases)

    inbox_rows = InboundEvent.objects.count()
    received = InboundEvent.objects.filter(status="received").count()
    errors = baseline.errors + intake.errors + latency.errors
    if inbox_rows != acks.value:
        errors.append(f"{acks.value} deliveries acknowledged but {inbox_rows} inbox rows stored")
    if server_errors:
        errors.append(f"server logged {len(server_errors)} tracebacks (see {log_path})")
        common.log(tail(log_path, 60))
    diagnose_intake(args, deliveries)

    result_ratio = common.ratio(intake.per_s, baseline.per_s)
    p50, p99 = percentile(latency.ack_ms, 50), percentile(latency.ack_ms, 99)
    passed = (
        result_ratio >= TARGET_RATIO and p99 is not None and p99 <= TARGET_P99_MS and not errors
    )
    return {
        "benchmark": "webhook_ingest",
        "clients": args.threads,
        "intake_per_s": round(intake.per_s, 1),
        "hmac_only_per_s": round(baseline.per_s, 1),
        "ratio": result_ratio,
        "target_ratio": TARGET_RATIO,
        "p50_ms": p50,
        "p99_ms": p99,
        "offered_rps": args.rate,
        "target_p99_ms": TARGET_P99_MS,
        "pass": passed,
        "achieved_rps": round(latency.achieved_rps, 1),
        "service_p99_ms": percentile(latency.service_ms, 99),
        "latency_overrun_s": round(latency.overrun_s, 2),
        "cpu_ms_per_request": cpu,
        "seconds": args.seconds,
        "latency_seconds": latency_seconds,
        "server": f"gunicorn {args.server_workers} workers x {args.server_threads} threads",
        "order": f"alternating, hmac-only first: {rounds} x (hmac-only {slice_seconds:g}s, "
        f"intake {slice_seconds:g}s), {args.warmup:g}s unmeasured warm-up before each; then "
        f"{latency_seconds:g}s open-loop at {args.rate:g}/s on intake",
        "acks": acks.value,
        "inbox_rows": inbox_rows,
        "inbox_received": received,
        "broker_messages": sum(queue_lengths.values()),
        "errors": errors,
    }


def main() -> None:
    common.main("webhook_ingest", build_parser(), run, needs_redis=True)


if __name__ == "__main__":
    main()
