"""What every benchmark shares: Django setup, a throwaway database, a fixed-duration thread
runner and the single JSON line on stdout.

A benchmark module defines `build_parser()` and `run(args) -> dict` and ends with
`common.main("benchmark_name", build_parser(), run)`. `main` guarantees:

* Django is set up against PostgreSQL (anything else is a clear error, exit 2), and
  against Redis as the Celery broker when the benchmark says `needs_redis`;
* the benchmark runs in a database of its own, created with Django's test-database
  machinery (`bench_<name>_<pid>`, migrated from scratch) and dropped at the end, so the
  database named in DATABASE_URL is never read or written;
* Celery tasks published on commit go to a queue of their own that no worker consumes
  (`bench_<pid>_<queue>`), deleted at the end: the publish is measured as in production,
  and no real worker can pick up a task that names a row of the throwaway database;
* stdout carries exactly one JSON object; everything else (Django, Celery, our logs) goes
  to stderr, even output written straight to file descriptor 1.

Exit codes: 0 a completed run (whatever the ratio, unless --strict), 1 a failed run
(worker errors, a broken ledger invariant, --strict and below target), 2 a setup error.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import sys
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

SETTINGS_MODULE = "inventory_hub.settings"
# OPTIONS keys Django's PostgreSQL backend understands itself; the rest are libpq parameters.
DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "assume_role", "pool"}


class BenchError(Exception):
    """The benchmark cannot run here; the message says why and what to do."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def base_parser(
    description: str,
    *,
    seconds: float,
    threads: int,
    warmup: float = 1.0,
    rounds: int | None = None,
) -> argparse.ArgumentParser:
    """The flags every benchmark has; `rounds` adds --rounds (for `alternate`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=seconds, help="measured seconds per side")
    parser.add_argument(
        "--warmup", type=float, default=warmup, help="unmeasured seconds before each slice"
    )
    if rounds is not None:
        parser.add_argument(
            "--rounds",
            type=int,
            default=rounds,
            help="the two sides alternate in this many slices each, seconds/rounds long",
        )
    parser.add_argument("--threads", type=int, default=threads, help="worker threads per side")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the ratio is below its target"
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=0,
        metavar="OPS",
        help="afterwards, run OPS service operations on one thread and log the time spent "
        "per SQL statement, in commits and in broker publishes (stderr)",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="afterwards, cProfile the service on one thread for SECONDS (stderr)",
    )
    return parser


# --- Django ------------------------------------------------------------------------------


def setup_django() -> None:
    """Set Django up against PostgreSQL, with nothing that would distort a measurement."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise BenchError(
            "DATABASE_URL must point at PostgreSQL (got "
            f"{url.split('://')[0] + '://...' if url else 'nothing'}). Run the benchmarks "
            "through `make bench` or `python3 scripts/services.py run -- uv run python -m "
            "bench.<name>`, which start a throwaway PostgreSQL and Redis."
        )
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        raise BenchError(f"The default database is {connection.vendor}, not PostgreSQL.")
    # DEBUG keeps every query in memory (and costs time); eager Celery would run the drain
    # inline against a dead channel URL. Neither is how production runs.
    settings.DEBUG = False
    from inventory_hub.celery import app

    app.conf.task_always_eager = False


@contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """A freshly migrated database for this run only, dropped on the way out."""
    from django.db import connection, connections

    original = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{label}_{os.getpid()}"
    started = time.monotonic()
    name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=False
    )
    log(f"created database {name} in {time.monotonic() - started:.1f}s")
    try:
        yield name
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0, keepdb=False)
        log(f"dropped database {name}")


def psycopg_connect():
    """A plain psycopg 3 connection (no Django) to the benchmark's database."""
    import psycopg
    from django.db import connection

    sd = connection.settings_dict
    params: dict[str, Any] = {
        key: value for key, value in sd["OPTIONS"].items() if key not in DJANGO_ONLY_OPTIONS
    }
    params["dbname"] = sd["NAME"]
    for key, param in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if sd.get(key):
            params[param] = sd[key]
    if sd.get("PORT"):
        params["port"] = str(sd["PORT"])
    return psycopg.connect(autocommit=False, **params)


# --- Celery ------------------------------------------------------------------------------


@contextmanager
def private_task_queues() -> Iterator[list[str]]:
    """Route every task to `bench_<pid>_<queue>`: publishing costs the same, nobody consumes.

    Yields the list of queue names; on the way out the queues (and kombu's bindings) are
    deleted from the broker.
    """
    from django.conf import settings

    from inventory_hub.celery import app

    prefix = f"bench_{os.getpid()}_"
    routes = dict(settings.CELERY_TASK_ROUTES)
    queues = sorted({route["queue"] for route in routes.values()} | {app.conf.task_default_queue})
    app.conf.task_routes = {
        task: {**route, "queue": prefix + route["queue"]} for task, route in routes.items()
    }
    app.conf.task_default_queue = prefix + app.conf.task_default_queue
    names = [prefix + queue for queue in queues]
    try:
        yield names
    finally:
        _delete_queues(names)


def queue_lengths(names: list[str]) -> dict[str, int]:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return {}
    import redis

    client = redis.Redis.from_url(url)
    try:
        return {name: int(client.llen(name)) for name in names}
    finally:
        client.close()


def _delete_queues(names: list[str]) -> None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.delete(*names, *(f"_kombu.binding.{name}" for name in names))
    except redis.RedisError as exc:  # cleanup only; the throwaway Redis goes away anyway
        log(f"could not delete the benchmark queues: {exc}")
    finally:
        client.close()


# --- the thread runner -------------------------------------------------------------------


@dataclass
class Phase:
    """Operations completed by `threads` workers in a measured window of `seconds`."""

    name: str
    threads: int
    seconds: float
    ops: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def run_threads(
    name: str,
    *,
    threads: int,
    seconds: float,
    warmup: float,
    setup: Callable[[int], Any],
    step: Callable[[Any], None],
    teardown: Callable[[Any], None],
) -> Phase:
    """Run `step(state)` in a loop on `threads` threads for `warmup + seconds`.

    `setup(index)` runs on the worker thread before the clock starts (open its database
    connection there) and `teardown(state)` after it stops, always. Only operations that
    complete inside the measured window count. A worker that raises stops and its error
    is reported; the others go on.
    """
    phase = Phase(name=name, threads=threads, seconds=seconds)
    counts = [0] * threads
    window: dict[str, float] = {}

    def open_window() -> None:
        window["start"] = time.monotonic() + warmup
        window["end"] = window["start"] + seconds

    barrier = threading.Barrier(threads + 1, action=open_window)

    def body(index: int) -> None:
        try:
            state = setup(index)
        except Exception as exc:
            phase.errors.append(f"{name} thread {index} setup: {exc!r}")
            barrier.abort()
            return
        try:
            barrier.wait()
            start, end = window["start"], window["end"]
            while True:
                step(state)
                now = time.monotonic()
                if now >= end:
                    break
                if now >= start:
                    counts[index] += 1
        except threading.BrokenBarrierError:
            pass
        except Exception as exc:
            phase.errors.append(f"{name} thread {index}: {exc!r}")
            log("".join(traceback.format_exception(exc)).rstrip())
        finally:
            teardown(state)

    workers = [
        threading.Thread(target=body, args=(index,), name=f"{name}-{index}", daemon=True)
        for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    with suppress(threading.BrokenBarrierError):
        barrier.wait()
    for worker in workers:
        worker.join()
    phase.ops = sum(counts)
    log(f"{name}: {phase.ops} ops in {seconds:.1f}s on {threads} threads = {phase.per_s:.1f}/s")
    for error in phase.errors:
        log(f"error: {error}")
    return phase


def combine(name: str, phases: list[Phase]) -> Phase:
    """Several alternating slices of the same side, as one measurement."""
    return Phase(
        name=name,
        threads=phases[0].threads,
        seconds=sum(p.seconds for p in phases),
        ops=sum(p.ops for p in phases),
        errors=[e for p in phases for e in p.errors],
    )


Side = tuple[Callable[[int], Any], Callable[[Any], None], Callable[[Any], None]]


@dataclass
class Comparison:
    """Two sides measured in alternating slices: `baseline` first in every round."""

    baseline: Phase
    subject: Phase
    round_ratios: list[float]
    order: str

    @property
    def ratio(self) -> float:
        return ratio(self.subject.per_s, self.baseline.per_s)

    @property
    def errors(self) -> list[str]:
        return self.baseline.errors + self.subject.errors


def alternate(
    args: argparse.Namespace,
    *,
    baseline: tuple[str, Callable[[str], Side]],
    subject: tuple[str, Callable[[str], Side]],
) -> Comparison:
    """Measure baseline, subject, baseline, subject... (`--rounds` slices each).

    Each side is (name, make) where make(label) returns (setup, step, teardown) for
    `run_threads`; label is unique per slice (use it in order ids). Alternating short
    slices spreads load from elsewhere on the machine, cache warmth and table growth over
    both sides; `round_ratios` shows how much the ratio moved from round to round.
    """
    rounds = max(1, args.rounds)
    slice_seconds = args.seconds / rounds
    phases: dict[str, list[Phase]] = {baseline[0]: [], subject[0]: []}
    for round_no in range(rounds):
        for name, make in (baseline, subject):
            setup, step, teardown = make(f"{name}-r{round_no}")
            phases[name].append(
                run_threads(
                    f"{name} round {round_no + 1}/{rounds}",
                    threads=args.threads,
                    seconds=slice_seconds,
                    warmup=args.warmup,
                    setup=setup,
                    step=step,
                    teardown=teardown,
                )
            )
    base, subj = phases[baseline[0]], phases[subject[0]]
    return Comparison(
        baseline=combine(baseline[0], base),
        subject=combine(subject[0], subj),
        round_ratios=[ratio(s.per_s, b.per_s) for b, s in zip(base, subj, strict=True)],
        order=f"alternating, {baseline[0]} first: {rounds} x ({baseline[0]} "
        f"{slice_seconds:g}s, {subject[0]} {slice_seconds:g}s), each after "
        f"{args.warmup:g}s unmeasured warm-up",
    )


# --- diagnostics -------------------------------------------------------------------------

VERB = re.compile(r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|\w+)\s*\"?(\w*)", re.S)
SELECT_FROM = re.compile(r"\bFROM\s+\"?(\w+)", re.S)


def _statement_key(sql: str) -> str:
    """'SELECT channels_listing', 'UPDATE ledger_stocklevel', 'SAVEPOINT', ..."""
    match = VERB.match(sql)
    if not match:
        return sql[:40]
    verb, table = match.groups()
    if verb == "SELECT":
        found = SELECT_FROM.search(sql)
        table = found.group(1) if found else ""
    elif verb not in {"INSERT INTO", "UPDATE", "DELETE FROM"}:
        table = ""
    key = f"{verb} {table}".strip()
    return key + (" FOR UPDATE" if sql.rstrip().endswith("FOR UPDATE") else "")


def diagnose(
    args: argparse.Namespace, label: str, setup: Callable[[int], Any], step: Callable[[Any], None]
) -> None:
    """--breakdown / --profile: where one service operation spends its time (stderr)."""
    if not (args.breakdown or args.profile):
        return
    from django.db import connection
    from django.db.backends.postgresql.base import DatabaseWrapper

    import inventory_hub.queueing as queueing

    worker = setup(0)
    for _ in range(50):  # warm caches and prepared plans first
        step(worker)
    if args.breakdown:
        ops = args.breakdown
        spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

        def timed(key: str, fn: Callable) -> Callable:
            def inner(*a: Any, **k: Any) -> Any:
                started = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    spent[key][0] += 1
                    spent[key][1] += time.perf_counter() - started

            return inner

        def wrapper(execute, sql, params, many, context):
            return timed(_statement_key(sql), execute)(sql, params, many, context)

        commit, enqueue = DatabaseWrapper._commit, queueing.enqueue
        DatabaseWrapper._commit = timed("COMMIT", commit)
        queueing.enqueue = timed("broker publish (apply_async)", enqueue)
        try:
            started = time.perf_counter()
            with connection.execute_wrapper(wrapper):
                for _ in range(ops):
                    step(worker)
            total = time.perf_counter() - started
        finally:
            DatabaseWrapper._commit, queueing.enqueue = commit, enqueue
        waited = sum(seconds for _, seconds in spent.values())
        log(
            f"breakdown of {ops} x {label} on one thread: {total / ops * 1e3:.2f} ms/op, of "
            f"which {waited / ops * 1e3:.2f} ms in statements/commit/publish (the rest is "
            "Python: ORM compilation, model instances, service logic)"
        )
        for key, (count, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
            log(f"  {key:48s} {count / ops:5.1f}/op {seconds / ops * 1e3:8.3f} ms/op")
    if args.profile:
        profiler = cProfile.Profile()
        calls, deadline = 0, time.monotonic() + args.profile
        profiler.enable()
        while time.monotonic() < deadline:
            step(worker)
            calls += 1
        profiler.disable()
        out = io.StringIO()
        out.write(f"cProfile of {calls} x {label} on one thread\n")
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        log(out.getvalue())


# --- entry point -------------------------------------------------------------------------


def main(
    name: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], dict],
    *,
    needs_redis: bool = False,
) -> None:
    args = parser.parse_args()
    # One JSON object on the real stdout; anything else that writes to fd 1 (a print, a
    # handler bound to sys.stdout) lands on stderr instead.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    code = 0
    try:
        if needs_redis and not os.environ.get("REDIS_URL", "").startswith("redis"):
            # Without it Celery would publish to the file-system broker under ./var, where
            # a development worker could pick the benchmark's tasks up.
            raise BenchError(
                "REDIS_URL must point at Redis: this benchmark measures the publish to the "
                "broker. Run it through `make bench` or scripts/services.py."
            )
        setup_django()
        with throwaway_database(name.split("_")[0]), private_task_queues() as queues:
            result = run(args)
            result.setdefault("broker_messages", sum(queue_lengths(queues).values()))
        failed = bool(result.get("errors")) or result.get("ledger_ok") is False
        code = 1 if failed or (args.strict and not result.get("pass")) else 0
    except BenchError as exc:
        log(f"error: {exc}")
        result, code = {"benchmark": name, "error": str(exc), "pass": False}, 2
    except Exception as exc:
        log("".join(traceback.format_exception(exc)).rstrip())
        result, code = {"benchmark": name, "error": repr(exc), "pass": False}, 1
    json_out.write(json.dumps(result) + "\n")
    json_out.flush()
    sys.exit(code)


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0
