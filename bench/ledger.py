"""Reservations per second: the service layer against hand-written SQL, same run.

    python3 scripts/services.py run -- uv run python -m bench.ledger [--seconds 10]

Both sides reserve 1 unit for a new order id on a SKU picked at random from a handful
(`--skus`, each with plenty of stock so nothing is refused), on `--threads` threads with
one database connection each. They alternate in slices (raw, service, raw, service, ...:
`--rounds`), so a drift in the machine or the tables' growth hits both alike.

service  `ledger.services.stock_reserve(sku=..., quantity=1, order_id=...,
         origin=Origin(source="api"))`, called as the reservations API calls it (no
         location: the service picks one), each call its own transaction.
raw SQL  psycopg 3, no Django, one transaction of five statements writing the same rows
         the service writes: a reservation, an operation (with its result), the level
         update (conditional: the lock and the availability check in one statement), a
         reservation line and the movement. See README.md for what it leaves out.

Afterwards every level must still equal the sum of its movements (`ledger_ok`).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

from bench.harness import inprocess
from bench.harness.databases import psycopg_connect
from bench.harness.report import log

TARGET_RATIO = 0.25
STOCK_PER_SKU = 100_000_000

RAW_SQL = {
    "reservation": """
        INSERT INTO ledger_reservation
            (sku_id, quantity, order_id, line_ref, channel_slug, status, source, created_at)
        VALUES (%s, 1, %s, '', '', 'open', 'api', now())
        RETURNING id""",
    "operation": """
        INSERT INTO ledger_stockoperation
            (kind, idempotency_key, request_fingerprint, result, source, actor_id, created_at)
        VALUES ('reserve', NULL, %s, %s, 'api', NULL, now())
        RETURNING id""",
    "level": """
        UPDATE ledger_stocklevel
           SET committed = committed + 1, version = version + 1
         WHERE id = %s AND on_hand - committed >= 1
        RETURNING on_hand, committed, version""",
    "line": """
        INSERT INTO ledger_reservationline (reservation_id, location_id, quantity)
        VALUES (%s, %s, 1)""",
    "movement": """
        INSERT INTO ledger_movement
            (operation_id, sku_id, location_id, kind, on_hand_delta, committed_delta,
             on_hand_after, committed_after, level_version, source, source_ref,
             inbound_event_id, reservation_id, idempotency_key, actor_id, reason,
             source_timestamp, recorded_at)
        VALUES (%s, %s, %s, 'reserve', 0, 1, %s, %s, %s, 'api', '', NULL, %s, NULL, NULL, '',
                NULL, now())""",
}


def build_parser() -> argparse.ArgumentParser:
    parser = inprocess.base_parser(
        __doc__.splitlines()[0], seconds=10.0, threads=8, warmup=0.5, rounds=5
    )
    parser.add_argument("--skus", type=int, default=8, help="SKUs reserved from (default 8)")
    return parser


@dataclass
class Target:
    sku: Any  # ledger.models.Sku
    level_id: int
    location_id: int


@dataclass
class Worker:
    rng: random.Random
    prefix: str
    seq: itertools.count = field(default_factory=itertools.count)
    conn: Any = None  # psycopg connection (raw side)

    def order_id(self) -> str:
        return f"{self.prefix}{next(self.seq)}"


def prepare(skus: int) -> list[Target]:
    from ledger.models import StockLevel
    from ledger.services import Origin, location_default, sku_create, stock_receive

    location = location_default()
    targets = []
    for index in range(skus):
        sku = sku_create(code=f"BENCH-{index:03d}", title=f"Benchmark SKU {index}")
        stock_receive(
            sku=sku, quantity=STOCK_PER_SKU, location=location, origin=Origin(reason="bench")
        )
        level = StockLevel.objects.get(sku=sku, location=location)
        targets.append(Target(sku=sku, level_id=level.pk, location_id=location.pk))
    return targets


def service_side(targets: list[Target], label: str):
    from django.db import connections

    from ledger.models import Source
    from ledger.services import Origin, stock_reserve

    origin = Origin(source=Source.API)

    def setup(index: int) -> Worker:
        return Worker(rng=random.Random(f"{label}-{index}"), prefix=f"{label}-{index}-")

    def step(worker: Worker) -> None:
        target = worker.rng.choice(targets)
        stock_reserve(sku=target.sku, quantity=1, order_id=worker.order_id(), origin=origin)

    def teardown(worker: Worker) -> None:
        connections.close_all()  # this thread's connection only (connections are per thread)

    return setup, step, teardown


def raw_side(targets: list[Target], label: str):
    def setup(index: int) -> Worker:
        worker = Worker(rng=random.Random(f"{label}-{index}"), prefix=f"{label}-{index}-")
        worker.conn = psycopg_connect()
        return worker

    def step(worker: Worker) -> None:
        target = worker.rng.choice(targets)
        order_id = worker.order_id()
        # What the service fingerprints for an idempotent replay; cheap, but its work too.
        payload = {
            "kind": "reserve",
            "lines": [[target.sku.pk, 1, ""]],
            "order_id": order_id,
            "channel": "",
            "locations": [target.location_id],
        }
        fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        conn = worker.conn
        try:
            with conn.cursor() as cur:
                cur.execute(RAW_SQL["reservation"], (target.sku.pk, order_id))
                (reservation_id,) = cur.fetchone()
                result = json.dumps({"reservation_ids": [reservation_id], "oversold": {}})
                cur.execute(RAW_SQL["operation"], (fingerprint, result))
                (operation_id,) = cur.fetchone()
                cur.execute(RAW_SQL["level"], (target.level_id,))
                row = cur.fetchone()
                if row is None:
                    raise RuntimeError(f"raw SQL reservation refused on level {target.level_id}")
                on_hand, committed, version = row
                cur.execute(RAW_SQL["line"], (reservation_id, target.location_id))
                cur.execute(
                    RAW_SQL["movement"],
                    (
                        operation_id,
                        target.sku.pk,
                        target.location_id,
                        on_hand,
                        committed,
                        version,
                        reservation_id,
                    ),
                )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def teardown(worker: Worker) -> None:
        if worker.conn is not None:
            worker.conn.close()

    return setup, step, teardown


def service_queries(targets: list[Target]) -> list[str]:
    """The SQL one service reservation sends, in order (logged for the report)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger.models import Source
    from ledger.services import Origin, stock_reserve

    with CaptureQueriesContext(connection) as captured:
        stock_reserve(
            sku=targets[0].sku, quantity=1, order_id="query-count", origin=Origin(source=Source.API)
        )
    return [query["sql"] for query in captured.captured_queries]


def run(args: argparse.Namespace) -> dict:
    targets = prepare(args.skus)
    comparison = inprocess.alternate(
        args,
        baseline=("raw_sql", lambda label: raw_side(targets, label)),
        subject=("service", lambda label: service_side(targets, label)),
    )
    raw, service = comparison.baseline, comparison.subject

    queries = service_queries(targets)
    log(f"one service reservation = {len(queries)} SQL statements:")
    for sql in queries:
        log(f"  {sql[:220]}")
    setup, step, _ = service_side(targets, "diagnose")
    inprocess.diagnose(args, "stock_reserve", setup, step)

    return {
        "benchmark": "ledger_reservations",
        "service_per_s": round(service.per_s, 1),
        "raw_sql_per_s": round(raw.per_s, 1),
        **inprocess.comparison_report(args, comparison, target_ratio=TARGET_RATIO),
        "skus": args.skus,
        "service_statements_per_op": len(queries),
        "raw_sql_statements_per_op": len(RAW_SQL),
    }


if __name__ == "__main__":
    inprocess.main("ledger_reservations", build_parser(), run)
