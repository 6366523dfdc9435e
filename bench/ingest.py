"""Signed Shopify webhooks per second: the hub's intake against a hand-written durable
endpoint and an HMAC-only view, driven by wrk, in one run.

    python3 scripts/services.py run -- uv run python -m bench.ingest [--seconds 15]

Three sides, each served by gunicorn with the same settings (`--server-workers` 2,
`--server-threads` 1: sync workers) on the benchmark's own database:

hmac_only  `POST /bench/hmac-only/?channel=bench-shop` (bench/views.py) on the hub's
           gunicorn (BENCH_ROUTES=1): Django + DRF, the channel lookup and
           `verify_shopify`, then 200. Stores nothing.
durable    bench/durable_app.py on a gunicorn of its own: no Django; the same HMAC check,
           then INSERT ... ON CONFLICT (dedupe_key) DO NOTHING of the body on a kept
           psycopg 3 connection, committed before the 200.
intake     `POST /webhooks/bench-shop/`: the hub's webhook view (channel lookup, HMAC,
           canonical-event parse, inbox INSERT + commit, the intake wake-up in Redis),
           answering 200 {"status": "accepted"}.

wrk (`--threads` connections, `--wrk-threads` threads) sends signed `orders/create`
deliveries, each distinct (its own event id, webhook id and order id), pre-signed here
into a file that bench/wrk/deliveries.lua cycles through. Closed loop: the sides take
turns (hmac_only, durable, intake) for `--rounds` rounds of `--seconds / --rounds` each,
after one `--warmup` run per side. Then the intake alone at a fixed `--rate` (500/s) for
`--latency-seconds` (20), in `--rounds` parts. Every figure is the median of its rounds
with their min and max. CPU seconds per 1,000 deliveries of the side's gunicorn (master
and workers), PostgreSQL (the whole server) and wrk come from /proc and wait4.

No worker runs: the events stay `received`. Afterwards every 2xx of the intake (and of
the durable endpoint) must name a stored row, no row twice (`inbox_exactly_once`).
The server publishes to Redis database `--redis-db` (15), which must be empty and is
flushed at the end, so no development worker can pick up a task naming a row of the
throwaway database.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import durable_app
from bench.harness import cpu, inprocess
from bench.harness.databases import database_url, is_local
from bench.harness.processes import Processes, tail
from bench.harness.queues import dedicated_redis_db, queue_lengths
from bench.harness.report import BenchError, log, quiet_http_clients
from bench.harness.stack import hub_env, start_gunicorn
from bench.harness.stats import ratio, spread
from bench.harness.wrk import WrkRun, require_wrk, run_wrk, write_deliveries

TARGET_RATIO = 0.5  # intake >= 0.5 x durable
TARGET_P99_MS = 50.0  # at --rate
CHANNEL_SLUG = "bench-shop"
SKU_CODE = "BENCH-TEE"
INTAKE_PATH = f"/webhooks/{CHANNEL_SLUG}/"
HMAC_ONLY_PATH = f"/bench/hmac-only/?channel={CHANNEL_SLUG}"
SIDES = ("hmac_only", "durable", "intake")
# Deliveries written per second of a run before a side's rate is known, and the margin
# over its rate after: a thread that runs out starts over (counted, and an error).
FIRST_GUESS_PER_S = 2500
MARGIN = 1.6


def build_parser() -> argparse.ArgumentParser:
    parser = inprocess.base_parser(
        __doc__.splitlines()[0], seconds=15.0, threads=16, warmup=1.0, rounds=3
    )
    parser.description = (
        "Signed Shopify webhooks per second: intake vs a durable endpoint vs HMAC-only, "
        "with wrk. --threads is wrk's connection count."
    )
    parser.add_argument(
        "--rate", type=float, default=500.0, help="deliveries/s of the constant-rate run"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=20.0, help="seconds of the constant-rate run"
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn --workers")
    parser.add_argument(
        "--server-threads", type=int, default=1, help="gunicorn --threads (1: sync workers)"
    )
    parser.add_argument(
        "--redis-db", type=int, default=15, help="Redis database the server publishes to"
    )
    return parser


# --- deliveries ------------------------------------------------------------------------------


class Deliveries:
    """Signed `orders/create` deliveries numbered from 1 across the whole run, so no two
    requests of any side carry the same event id, webhook id or order id."""

    def __init__(self, secret: str, directory: Path):
        self.secret = secret
        self.directory = directory
        self.next_number = 1
        self.run = uuid.uuid4().hex[:12]

    def one(self, number: int) -> tuple[str, str, str, str, bytes]:
        """(webhook id, event id, X-Shopify-Hmac-Sha256, triggered-at, body)."""
        from channels.webhooks.signing import sign_shopify

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
            },
            separators=(",", ":"),
        ).encode()
        signature = sign_shopify(body, self.secret)["X-Shopify-Hmac-Sha256"]
        webhook_id = str(uuid.UUID(int=uuid.UUID(self.run.ljust(32, "0")).int + number))
        return webhook_id, f"{self.run}-{number}", signature, now, body

    def file(self, label: str, count: int) -> Path:
        """The next `count` deliveries, written for deliveries.lua."""
        path = self.directory / f"deliveries-{label}.tsv"
        first = self.next_number
        self.next_number += count
        write_deliveries(path, (self.one(n) for n in range(first, first + count)))
        return path

    def headers(self, number: int) -> tuple[bytes, dict[str, str]]:
        """One delivery as a body and its headers (for the in-process diagnostics)."""
        webhook_id, event_id, signature, triggered, body = self.one(number)
        return body, {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Triggered-At": triggered,
            "X-Shopify-Shop-Domain": "bench.myshopify.com",
        }


# --- one side, one run -------------------------------------------------------------------------


@dataclass
class Measured:
    """A wrk run and the CPU seconds spent meanwhile, by part."""

    run: WrkRun
    cpu: dict[str, float]

    def cpu_per_1000(self) -> dict[str, float | None]:
        if not self.run.ok:
            return dict.fromkeys(self.cpu)
        return {part: seconds / self.run.ok * 1000 for part, seconds in self.cpu.items()}


@dataclass
class Side:
    name: str
    url: str  # base URL of its server
    path: str
    gunicorn_pid: int
    rounds: list[Measured] = field(default_factory=list)
    all_runs: list[Measured] = field(default_factory=list)  # warm-up and constant rate too
    ids_prefixes: list[Path] = field(default_factory=list)
    best_per_s: float = 0.0


class Bench:
    def __init__(self, args: argparse.Namespace, deliveries: Deliveries, postmaster: int | None):
        self.args, self.deliveries, self.postmaster = args, deliveries, postmaster
        self.runs = 0

    def measure(self, side: Side, seconds: int, *, rate: float = 0.0) -> Measured:
        self.runs += 1
        label = f"{self.runs:02d}-{side.name}"
        expected = rate or max(side.best_per_s * MARGIN, FIRST_GUESS_PER_S)
        count = int(math.ceil(expected * seconds)) + 4 * self.args.threads
        data = self.deliveries.file(label, count)
        ids_prefix = self.deliveries.directory / f"ids-{label}-"
        roots = {"gunicorn": side.gunicorn_pid, "postgresql": self.postmaster}
        before = cpu.tree_seconds(roots)
        run = run_wrk(
            side.url,
            side.path,
            data,
            seconds=seconds,
            connections=self.args.threads,
            threads=self.args.wrk_threads,
            rate=rate,
            ids_prefix="-" if side.name == "hmac_only" else str(ids_prefix),
        )
        used = cpu.delta(cpu.tree_seconds(roots), before, digits=3)
        used["load_generator"] = round(run.cpu_seconds, 3)
        data.unlink()
        if side.name != "hmac_only":
            side.ids_prefixes.append(ids_prefix)
        side.best_per_s = max(side.best_per_s, run.ok_per_s)
        measured = Measured(run, used)
        side.all_runs.append(measured)
        log(
            f"{side.name}{f' at {rate:g}/s' if rate else ''}: {run.ok} x 2xx in "
            f"{run.seconds:.1f}s = {run.ok_per_s:.0f}/s, p50 {run.p50_ms:.1f} ms, p99 "
            f"{run.p99_ms:.1f} ms, {run.errors} errors, {run.duplicates} duplicates"
            + (f", {run.late} sent late (max {run.max_late_ms} ms)" if rate else "")
            + "; CPU s/1000: "
            + ", ".join(f"{k} {v:.2f}" for k, v in measured.cpu_per_1000().items() if v)
        )
        if run.wrapped:
            log(f"warning: {side.name}: wrk ran out of deliveries and repeated some")
        return measured


def figures(runs: list[Measured]) -> dict[str, Any]:
    """Median (min, max) of each figure over the rounds."""
    parts = ("gunicorn", "postgresql", "load_generator")
    return {
        "deliveries_per_s": spread([m.run.ok_per_s for m in runs], digits=1),
        "p50_ms": spread([m.run.p50_ms for m in runs]),
        "p95_ms": spread([m.run.p95_ms for m in runs]),
        "p99_ms": spread([m.run.p99_ms for m in runs]),
        "cpu_seconds_per_1000": {
            part: spread([m.cpu_per_1000().get(part) for m in runs], digits=3) for part in parts
        },
        "errors": sum(m.run.errors for m in runs),
        "non2xx": sum(m.run.non2xx for m in runs),
        "socket_errors": sum(m.run.socket_errors for m in runs),
        "duplicates": sum(m.run.duplicates for m in runs),
        "deliveries": sum(m.run.ok for m in runs),
    }


# --- exactly once ----------------------------------------------------------------------------


def acknowledged_ids(side: Side) -> list[int]:
    ids: list[int] = []
    for prefix in side.ids_prefixes:
        for path in prefix.parent.glob(prefix.name + "*.txt"):
            ids += [int(line) for line in path.read_text().split()]
    return ids


def exactly_once(side: Side, stored_ids: set[int]) -> dict[str, Any]:
    """Every 2xx names a stored row, none twice; rows beyond the answers are at most the
    requests still in flight when a wrk run stopped (stored, never answered)."""
    acked = acknowledged_ids(side)
    ok = sum(m.run.ok for m in side.all_runs)
    unanswered = sum(m.run.sent - m.run.requests for m in side.all_runs)
    distinct = set(acked)
    missing = len(distinct - stored_ids)
    extra = len(stored_ids - distinct)
    verdict = {
        "acks": ok,
        "acked_ids": len(acked),
        "rows": len(stored_ids),
        "acked_missing_in_db": missing,
        "acked_twice": len(acked) - len(distinct),
        "rows_not_acked": extra,
        "in_flight_at_stop": unanswered,
    }
    verdict["ok"] = (
        len(acked) == ok and not missing and len(acked) == len(distinct) and extra <= unanswered
    )
    return verdict


# --- setup ---------------------------------------------------------------------------------


def prepare() -> tuple[str, int | None]:
    """A Shopify channel with a fresh secret (no SKU: nothing is processed, only stored),
    the durable endpoint's table, and the PostgreSQL server's pid (None if not local)."""
    from django.db import connection, connections

    from channels.models import ChannelKind
    from channels.services import channel_create

    secret = f"shpss_{secrets.token_hex(16)}"
    channel_create(
        slug=CHANNEL_SLUG, kind=ChannelKind.SHOPIFY, name="Benchmark shop", webhook_secret=secret
    )
    with connection.cursor() as cursor:
        cursor.execute(durable_app.TABLE_DDL)
        postmaster = cpu.postgres_postmaster_pid(cursor) if is_local() else None
    connections.close_all()  # the servers are what talk to the database from now on
    return secret, postmaster


def check_routes(base_url: str, deliveries: Deliveries) -> None:
    import httpx

    body, headers = deliveries.headers(0)
    response = httpx.post(base_url + HMAC_ONLY_PATH, content=body, headers=headers, timeout=10)
    if response.status_code == 404 and "json" not in response.headers.get("content-type", ""):
        raise BenchError(
            "the server does not route POST /bench/hmac-only/ although it runs with "
            "BENCH_ROUTES=1: the settings should route it through bench/urls.py "
            "(see bench/views.py)."
        )
    if response.status_code != 200:
        raise BenchError(f"hmac-only answered HTTP {response.status_code}: {response.text[:300]}")


def diagnose_intake(args: argparse.Namespace, deliveries: Deliveries) -> None:
    """--breakdown / --profile: where one intake request spends its time, in-process."""
    import itertools

    from django.test import Client

    numbers = itertools.count(10**9)

    def setup(index: int) -> Client:
        return Client(SERVER_NAME="127.0.0.1")

    def step(client: Client) -> None:
        body, headers = deliveries.headers(next(numbers))
        response = client.post(
            INTAKE_PATH, body, content_type="application/json", headers=headers, secure=True
        )
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.content[:300]!r}")

    inprocess.diagnose(args, "intake view (in-process)", setup, step)


def servers(
    args: argparse.Namespace, procs: Processes, tmp: Path, secret: str, redis_url: str
) -> dict[str, Side]:
    """The hub's gunicorn (hmac_only and intake) and the durable endpoint's."""
    db_url = database_url()
    hub, hub_url = start_gunicorn(
        procs,
        "hub gunicorn",
        "inventory_hub.wsgi",
        env=hub_env(db_url, redis_url, log_level="WARNING", BENCH_ROUTES="1"),
        log_path=tmp / "hub-gunicorn.log",
        workers=args.server_workers,
        threads=args.server_threads,
    )
    durable, durable_url = start_gunicorn(
        procs,
        "durable gunicorn",
        "bench.durable_app:app",
        env=hub_env(
            db_url,
            redis_url,
            log_level="WARNING",
            BENCH_DURABLE_DSN=db_url,
            BENCH_DURABLE_SECRET=secret,
        ),  # fmt: skip
        log_path=tmp / "durable-gunicorn.log",
        workers=args.server_workers,
        threads=args.server_threads,
        health_path="/",
    )
    return {
        "hmac_only": Side("hmac_only", hub_url, HMAC_ONLY_PATH, hub.pid),
        "durable": Side("durable", durable_url, "/", durable.pid),
        "intake": Side("intake", hub_url, INTAKE_PATH, hub.pid),
    }


# --- the benchmark ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    from channels.models import InboundEvent

    quiet_http_clients()
    secret, postmaster = prepare()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    deliveries = Deliveries(secret, tmp)
    bench = Bench(args, deliveries, postmaster)
    rounds = max(1, args.rounds)
    slice_seconds = max(1, round(args.seconds / rounds))
    rate_seconds = max(1, round(args.latency_seconds / rounds))
    procs = Processes()
    with dedicated_redis_db(args.redis_db) as (redis_url, rclient):
        try:
            sides = servers(args, procs, tmp, secret, redis_url)
            check_routes(sides["hmac_only"].url, deliveries)
            if args.warmup > 0:
                for side in sides.values():
                    bench.measure(side, max(1, round(args.warmup)))
            for round_no in range(rounds):
                log(f"round {round_no + 1}/{rounds}")
                for name in SIDES:
                    sides[name].rounds.append(bench.measure(sides[name], slice_seconds))
            constant = [
                bench.measure(sides["intake"], rate_seconds, rate=args.rate) for _ in range(rounds)
            ]
        finally:
            procs.stop()  # answers everything in flight first (a graceful stop)
        broker = queue_lengths(rclient)

    logs = {name: tmp / f"{name}-gunicorn.log" for name in ("hub", "durable")}
    tracebacks = {n: p.read_text(errors="replace").count("Traceback") for n, p in logs.items()}
    from django.db import connection

    stored = set(InboundEvent.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM bench_durable_inbox")
        durable_stored = {row[0] for row in cursor.fetchall()}
    received = InboundEvent.objects.filter(status="received").count()
    inbox_check = exactly_once(sides["intake"], stored)
    durable_check = exactly_once(sides["durable"], durable_stored)
    diagnose_intake(args, deliveries)

    per_side = {name: figures(sides[name].rounds) for name in SIDES}
    at_rate = figures(constant)
    at_rate["late_sends"] = sum(m.run.late for m in constant)
    at_rate["max_late_ms"] = max(m.run.max_late_ms for m in constant)
    to_durable = [
        ratio(h.run.ok_per_s, d.run.ok_per_s)
        for h, d in zip(sides["intake"].rounds, sides["durable"].rounds, strict=True)
    ]
    to_bare = [
        ratio(h.run.ok_per_s, b.run.ok_per_s)
        for h, b in zip(sides["intake"].rounds, sides["hmac_only"].rounds, strict=True)
    ]
    errors: list[str] = []
    for name in SIDES:
        if per_side[name]["errors"]:
            errors.append(f"{name}: {per_side[name]['errors']} errors in the closed-loop rounds")
    if any(m.run.wrapped for side in sides.values() for m in side.all_runs):
        errors.append("wrk ran out of distinct deliveries in some run (a bench bug)")
    if not inbox_check["ok"]:
        errors.append(f"intake acknowledgements do not match the inbox: {inbox_check}")
    if not durable_check["ok"]:
        errors.append(f"durable acknowledgements do not match its table: {durable_check}")
    for name, count in tracebacks.items():
        if count:
            errors.append(f"{name} gunicorn logged {count} tracebacks (see {logs[name]})")
            log(tail(logs[name], 60))

    ratio_durable = spread(to_durable, digits=3)
    p99_at_rate = at_rate["p99_ms"]["median"]
    targets = {
        "intake_at_least_half_of_durable": (ratio_durable["median"] or 0) >= TARGET_RATIO,
        "p99_under_50ms_at_rate": p99_at_rate is not None and p99_at_rate < TARGET_P99_MS,
        "zero_errors_at_rate": at_rate["errors"] == 0,
    }
    cpu_ms = {
        name: {
            "client": _ms(per_side[name], "load_generator"),
            "server": _ms(per_side[name], "gunicorn"),
            "database": _ms(per_side[name], "postgresql"),
        }
        for name in SIDES
    }
    bare, durable, intake = (per_side[name]["deliveries_per_s"]["median"] for name in SIDES)
    return {
        "benchmark": "webhook_ingest",
        "clients": args.threads,
        "intake_per_s": intake,
        "hmac_only_per_s": bare,
        "durable_per_s": durable,
        "ratio": ratio_durable["median"],
        "target_ratio": TARGET_RATIO,
        "ratio_to_durable": ratio_durable,
        "ratio_to_hmac_only": spread(to_bare, digits=3),
        "p50_ms": at_rate["p50_ms"]["median"],
        "p95_ms": at_rate["p95_ms"]["median"],
        "p99_ms": p99_at_rate,
        "offered_rps": args.rate,
        "target_p99_ms": TARGET_P99_MS,
        "pass": all(targets.values()) and not errors,
        "targets": targets,
        "achieved_rps": at_rate["deliveries_per_s"]["median"],
        "errors_at_rate": at_rate["errors"],
        "service_p99_ms": p99_at_rate,
        "latency_overrun_s": None,
        "sides": per_side,
        "constant_rate": at_rate,
        "cpu_ms_per_request": cpu_ms,
        "seconds": args.seconds,
        "latency_seconds": args.latency_seconds,
        "server": f"gunicorn {args.server_workers} workers x {args.server_threads} threads "
        "(each side)",
        "load_generator": f"wrk -t {args.wrk_threads} -c {args.threads}",
        "order": f"one {max(1, round(args.warmup))}s warm-up per side, then {rounds} rounds "
        f"of (hmac_only, durable, intake) {slice_seconds}s each, closed loop; then "
        f"{rounds} x {rate_seconds}s of intake at {args.rate:g}/s",
        "acks": inbox_check["acks"],
        "inbox_rows": inbox_check["rows"],
        "inbox_received": received,
        "inbox_exactly_once": inbox_check,
        "durable_exactly_once": durable_check,
        "broker_messages": sum(broker.values()),
        "logs": str(tmp),
        "errors": errors,
    }


def _ms(side: dict, part: str) -> float | None:
    """CPU seconds per 1,000 deliveries is CPU milliseconds per delivery."""
    return side["cpu_seconds_per_1000"][part]["median"]


def main() -> None:
    inprocess.main("webhook_ingest", build_parser(), run, needs_redis=True, preflight=require_wrk)


if __name__ == "__main__":
    main()
