"""Reconcile 10,000 SKUs x 4 simulator channels: wall time, peak memory, and the push
latency of live sales during the reconcile against without it, in the same run.

    python3 scripts/services.py run -- uv run python -m bench.reconcile [--skus 10000]

Setup: the channel simulator as its own process (bench.harness.stack.Simulator) with
four stores (sandbox, standard, woocommerce, shopify), each holding every SKU at the
hub's number; `--skus` SKUs created and received through the ledger's services, listed
on the four channels (`channels.services.channel_create`), their listings marked in sync
(the stores already show the numbers, so the 40,000 initial pushes are skipped). In every
store `--drift` percent of the SKUs are then changed behind the hub's back.

Each round has two slices of live sales (one unit adjusted away on a random SKU every
`--sale-interval` seconds, drained by one drainer thread per channel in this process, as
the propagate worker's `drain_outbox` would): *without* (no reconcile) and *during* (the
four channels reconciled at once, one thread each, sharing the channels' token buckets
with the drainers through Redis). The reconcile runs as the Procfile's reconcile worker
runs it: a process of its own at `nice -n 10` (`--reconcile-in thread` runs it in this
process instead, beside the drainers, as a worker serving both queues would). The push
latency of a sale is the outbox entry's committed -> confirmed time. Reported per round,
then the median and spread over `--rounds`.

Targets: the four channels reconciled in < 60 s, peak RSS of the reconcile's process
< 300 MB, p95 push latency during <= 1.5 x without.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import inprocess
from bench.harness.databases import database_url, setup_django
from bench.harness.processes import Processes
from bench.harness.queues import private_task_queues
from bench.harness.report import ROOT, BenchError, log
from bench.harness.stack import Simulator
from bench.harness.stats import percentile, spread

KINDS = ["sandbox", "standard", "woocommerce", "shopify"]
# The stores' and the channels' limits (requests/s, or Shopify points/s): a busy shop.
LIMITS = {
    "sandbox": (100.0, 200),
    "standard": (100.0, 200),
    "woocommerce": (100.0, 200),
    "shopify": (2000.0, 4000),
}
TARGET_SECONDS, TARGET_MB, TARGET_LATENCY_RATIO = 60.0, 300.0, 1.5


def build_parser():
    parser = inprocess.base_parser(__doc__.splitlines()[0], seconds=0, threads=1, rounds=3)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--drift", type=float, default=1.0, help="percent of SKUs drifted")
    parser.add_argument("--sale-interval", type=float, default=0.1)
    parser.add_argument(
        "--baseline-seconds", type=float, default=15.0, help="the slice without reconcile"
    )
    parser.add_argument(
        "--reconcile-in",
        choices=["process", "thread"],
        default="process",
        help="a reconcile worker of its own (production's layout) or this process",
    )
    parser.add_argument(
        "--nice", type=int, default=10, help="the reconcile process's niceness (Procfile: 10)"
    )
    return parser


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def setup(sim: Simulator, n: int, drift_percent: float) -> list:
    from django.db.models import F

    from channels.models import Listing, ListingState, OutboxEntry
    from channels.services import channel_create
    from ledger.services import skus_create, stock_receive_lines

    rng = random.Random(7)
    quantities = {f"B-{i:05d}": rng.randint(20, 200) for i in range(n)}
    channels = []
    for kind in KINDS:
        rate, burst = LIMITS[kind]
        store = sim.create_store(
            {
                "kind": kind,
                "store": f"bench-{kind}",
                "levels": quantities,
                "rate_limit": {"rate": rate, "burst": burst},
            }
        )
        config = store["channel"]
        channels.append(
            channel_create(
                slug=f"bench-{kind}",
                kind=kind,
                name=kind,
                webhook_secret=store["webhook_secret"],
                credentials=config["credentials"],
                settings={
                    **config["settings"],
                    "base_url": store["base_url"],
                    "rate_limit_per_second": rate,
                    "rate_limit_burst": burst,
                },
            )
        )
    log(f"creating {n} SKUs")
    for start in range(0, n, 1000):
        codes = list(quantities)[start : start + 1000]
        skus = skus_create(items=[{"code": code} for code in codes])
        stock_receive_lines(lines=[(sku, quantities[sku.code]) for sku in skus])
    OutboxEntry.objects.all().delete()
    Listing.objects.update(confirmed=F("published"), state=ListingState.IN_SYNC)
    drifted = rng.sample(list(quantities), max(1, int(n * drift_percent / 100)))
    for kind in KINDS:
        sim.call(
            "POST",
            f"/_control/stores/bench-{kind}/levels",
            json={
                code: max(0, quantities[code] + rng.choice([-7, -2, 1, 3, 12])) for code in drifted
            },
        )
    return channels


class Sales:
    """Live sales and one drainer per channel, until stopped."""

    def __init__(self, channels, interval: float) -> None:
        from ledger.models import Sku

        self.channels, self.interval = channels, interval
        self.sku_ids = list(Sku.objects.values_list("pk", flat=True))
        self.stop = threading.Event()
        self.errors: list[str] = []

    def _sell(self) -> None:
        from django.db import connection

        from ledger.models import Sku
        from ledger.services import stock_adjust

        rng = random.Random()
        try:
            while not self.stop.is_set():
                sku = Sku.objects.get(pk=rng.choice(self.sku_ids))
                try:
                    stock_adjust(sku=sku, quantity=-1)
                except Exception as exc:  # noqa: BLE001 - a sold-out SKU, say
                    self.errors.append(repr(exc)[:200])
                self.stop.wait(self.interval)
        finally:
            connection.close()

    def _drain(self, channel) -> None:
        from django.db import connection

        from channels.propagation.drain import outbox_drain_channel

        try:
            while not self.stop.is_set():
                if not outbox_drain_channel(channel_id=channel.pk):
                    self.stop.wait(0.02)
        finally:
            connection.close()

    def __enter__(self):
        self.threads = [threading.Thread(target=self._sell, daemon=True)] + [
            threading.Thread(target=self._drain, args=(c,), daemon=True) for c in self.channels
        ]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


def latencies_since(moment) -> list[float]:
    from channels.models import OutboxEntry, OutboxStatus

    return [
        (confirmed - enqueued).total_seconds()
        for confirmed, enqueued in OutboxEntry.objects.filter(
            status=OutboxStatus.CONFIRMED, enqueued_at__gte=moment
        ).values_list("confirmed_at", "enqueued_at")
    ]


def reconcile_all(channels) -> tuple[float, list]:
    from django.db import connection

    from channels.reconcile.runs import reconcile_channel

    runs: list = []

    def one(channel) -> None:
        try:
            runs.append(reconcile_channel(channel_id=channel.pk, full=True, trigger="bench"))
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(c,)) for c in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, runs


def reconcile_elsewhere(channels, nice: int) -> tuple[float, list, float]:
    """The channels reconciled by a process of its own (`--child`), as the reconcile
    worker runs them: (seconds, runs, that process's peak RSS in MB)."""
    command = [sys.executable, "-m", "bench.reconcile", "--child"]
    command += [",".join(str(channel.pk) for channel in channels)]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    started = time.monotonic()
    child = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if child.returncode != 0:
        raise BenchError(f"the reconcile process failed: {child.stderr[-2000:]}")
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    from channels.models import ReconcileRun

    runs = list(ReconcileRun.objects.filter(pk__in=answer["runs"]))
    return seconds, runs, answer["peak_mb"]


def child_main(channel_ids: str) -> None:
    """`--child IDS`: reconcile these channels, one thread each; print the runs' ids and
    this process's peak RSS as one JSON line."""
    setup_django()
    from channels.models import Channel

    with private_task_queues():
        channels = list(Channel.objects.filter(pk__in=channel_ids.split(",")))
        _, runs = reconcile_all(channels)
    print(json.dumps({"runs": [run.pk for run in runs if run], "peak_mb": peak_mb()}))


def run(args) -> dict:
    from django.utils import timezone

    procs = Processes()
    sim = Simulator(procs, Path(tempfile.mkdtemp(prefix="bench-reconcile-")) / "simulator.log")
    try:
        channels = setup(sim, args.skus, args.drift)
        rounds = []
        for number in range(1, args.rounds + 1):
            log(f"round {number}/{args.rounds}: without reconcile")
            with Sales(channels, args.sale_interval):
                start = timezone.now()
                time.sleep(args.baseline_seconds)
            time.sleep(1.0)
            without = latencies_since(start)
            log(f"round {number}/{args.rounds}: during reconcile")
            with Sales(channels, args.sale_interval):
                start = timezone.now()
                if args.reconcile_in == "process":
                    seconds, runs, reconcile_mb = reconcile_elsewhere(channels, args.nice)
                else:
                    seconds, runs = reconcile_all(channels)
                    reconcile_mb = peak_mb()
            during = latencies_since(start)
            p95_without, p95_during = (
                percentile(without, 95, digits=3),
                percentile(during, 95, digits=3),
            )
            rounds.append(
                {
                    "reconcile_seconds": round(seconds, 2),
                    "listings_checked": sum(r.listings_checked for r in runs if r),
                    "drift_found": sum(r.drift_found for r in runs if r),
                    "errors": sum(r.errors for r in runs if r),
                    "runs_finished": sum(1 for r in runs if r and r.status == "finished"),
                    "p95_without": p95_without,
                    "p95_during": p95_during,
                    "pushes_without": len(without),
                    "pushes_during": len(during),
                    "latency_ratio": round(p95_during / p95_without, 3)
                    if p95_without and p95_during
                    else None,
                    "peak_mb": reconcile_mb,
                }
            )
            log(f"round {number}: {rounds[-1]}")
    finally:
        procs.stop()
        sim.close()
    seconds = spread([r["reconcile_seconds"] for r in rounds])
    ratio = spread([r["latency_ratio"] for r in rounds], digits=3)
    memory = max(r["peak_mb"] for r in rounds)
    return {
        "benchmark": "reconcile",
        "skus": args.skus,
        "channels": KINDS,
        "reconcile_in": f"process (nice {args.nice})"
        if args.reconcile_in == "process"
        else "thread",
        "listings": args.skus * len(KINDS),
        "reconcile_seconds": seconds,
        "peak_rss_mb": memory,
        "p95_push_latency_without": spread([r["p95_without"] for r in rounds], digits=3),
        "p95_push_latency_during": spread([r["p95_during"] for r in rounds], digits=3),
        "latency_ratio": ratio,
        "rounds": rounds,
        "targets": {
            "reconcile_seconds": TARGET_SECONDS,
            "peak_rss_mb": TARGET_MB,
            "latency_ratio": TARGET_LATENCY_RATIO,
        },
        "pass": bool(
            seconds["median"] is not None
            and seconds["median"] < TARGET_SECONDS
            and memory < TARGET_MB
            and ratio["median"] is not None
            and ratio["median"] <= TARGET_LATENCY_RATIO
        ),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2])
    else:
        inprocess.main("reconcile_bench", build_parser(), run, needs_redis=True)
