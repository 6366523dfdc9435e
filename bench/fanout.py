"""Movements per second with fan-out to 5 channels, against no channels, same run.

    python3 scripts/services.py run -- uv run python -m bench.fanout [--seconds 10]

Each operation is `ledger.services.stock_receive(sku=..., quantity=1,
origin=Origin(source="api"))` on a SKU picked at random from `--skus`, on `--threads`
threads (default 1: the per-movement cost of the fan-out itself, without lock waits or
GIL contention; on a 2-core machine more threads mostly measure the GIL).

with channels  5 `sandbox` channels are created first (`channels.services.channel_create`,
               base_url http://127.0.0.1:9, nothing listens), then `--skus` SKUs through
               `ledger.services.sku_create`, so each is listed on all 5. Each receipt
               recomputes 5 published quantities, upserts 5 pending outbox rows
               (coalesced: one pending row per listing) and, on commit, publishes 5
               `drain_outbox` tasks to Redis. No worker runs: the tasks go to a private
               queue (see bench/harness/inprocess.py); the publish is measured as
               production pays it.
no channels    `--skus` other SKUs saved as bare model rows, on no channel (no listing).
               For the service this is exactly a hub without channels: it looks the
               SKU's listings up, finds none and writes no outbox row (the same 8
               statements as in a database with no channel at all; the JSON reports
               both statement counts).

The two sides alternate in slices (no channels, channels, no channels, channels:
`--rounds`), each after its own warm-up, so load from elsewhere on the machine and table
growth hit both alike.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from typing import Any

from bench.harness import inprocess
from bench.harness.report import BenchError, log

TARGET_RATIO = 0.6
SANDBOX_URL = "http://127.0.0.1:9"  # the discard port: a push would fail fast, none is made


def build_parser() -> argparse.ArgumentParser:
    parser = inprocess.base_parser(
        __doc__.splitlines()[0], seconds=10.0, threads=1, warmup=0.5, rounds=5
    )
    parser.add_argument("--skus", type=int, default=20, help="SKUs per side (default 20)")
    parser.add_argument("--channels", type=int, default=5, help="sandbox channels (default 5)")
    return parser


@dataclass
class Worker:
    rng: random.Random


def create_listed_skus(prefix: str, count: int) -> list[Any]:
    """SKUs as the hub creates them: listed on every channel."""
    from ledger.services import sku_create

    return [sku_create(code=f"{prefix}-{index:03d}", title=prefix) for index in range(count)]


def create_unlisted_skus(prefix: str, count: int) -> list[Any]:
    """SKUs on no channel: saved as bare rows, so `listings_match_sku` never lists them."""
    from channels.models import Listing
    from ledger.models import Sku

    skus = []
    for index in range(count):
        sku = Sku(code=f"{prefix}-{index:03d}", title=prefix)
        sku.save()
        skus.append(sku)
    if Listing.objects.filter(sku__in=skus).exists():
        raise BenchError("the no-channel SKUs were listed on a channel")
    return skus


def receive_side(skus: list[Any], label: str):
    from django.db import connections

    from ledger.models import Source
    from ledger.services import Origin, stock_receive

    origin = Origin(source=Source.API)

    def setup(index: int) -> Worker:
        return Worker(rng=random.Random(f"{label}-{index}"))

    def step(worker: Worker) -> None:
        stock_receive(sku=worker.rng.choice(skus), quantity=1, origin=origin)

    def teardown(worker: Worker) -> None:
        connections.close_all()  # this thread's connection only

    return setup, step, teardown


def statements_per_receipt(sku: Any) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger.models import Source
    from ledger.services import Origin, stock_receive

    with CaptureQueriesContext(connection) as captured:
        stock_receive(sku=sku, quantity=1, origin=Origin(source=Source.API))
    return [query["sql"] for query in captured.captured_queries]


def log_statements(label: str, statements: list[str]) -> None:
    log(f"one receipt {label} = {len(statements)} SQL statements:")
    for sql in statements:
        log(f"  {sql[:220]}")


def run(args: argparse.Namespace) -> dict:
    from channels.models import ChannelKind, OutboxEntry, OutboxStatus
    from channels.services import channel_create

    for index in range(args.channels):
        channel_create(
            slug=f"bench-{index}",
            kind=ChannelKind.SANDBOX,
            name=f"Benchmark sandbox {index}",
            settings={"base_url": SANDBOX_URL},
        )
    fanout_skus = create_listed_skus("FANOUT", args.skus)
    plain_skus = create_unlisted_skus("PLAIN", args.skus)

    comparison = inprocess.alternate(
        args,
        baseline=("no_channels", lambda label: receive_side(plain_skus, label)),
        subject=("with_channels", lambda label: receive_side(fanout_skus, label)),
    )
    plain, fanned = comparison.baseline, comparison.subject
    pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count()

    plain_statements = statements_per_receipt(plain_skus[0])
    fanout_statements = statements_per_receipt(fanout_skus[0])
    log_statements("without channels", plain_statements)
    log_statements(f"with {args.channels} channels", fanout_statements)
    for label, skus in (
        ("stock_receive without channels", plain_skus),
        (f"stock_receive with {args.channels} channels", fanout_skus),
    ):
        setup, step, _ = receive_side(skus, "diagnose")
        inprocess.diagnose(args, label, setup, step)

    return {
        "benchmark": "outbox_fanout",
        "channels": args.channels,
        "with_channels_per_s": round(fanned.per_s, 1),
        "no_channels_per_s": round(plain.per_s, 1),
        **inprocess.comparison_report(args, comparison, target_ratio=TARGET_RATIO),
        "pending_outbox_rows": pending,
        "skus": args.skus,
        "statements_per_op": {
            "no_channels": len(plain_statements),
            "with_channels": len(fanout_statements),
        },
    }


if __name__ == "__main__":
    inprocess.main("outbox_fanout", build_parser(), run, needs_redis=True)
