"""Benchmarks that run the hub's own code inside this process (bench.ledger, bench.fanout):
Django on a throwaway database, a fixed-duration thread runner, two sides alternating in
slices, and --breakdown/--profile diagnostics.

A module defines `build_parser()` (starting from `base_parser`) and `run(args) -> dict`
and ends with `inprocess.main("benchmark_name", build_parser(), run)`. `main` guarantees:

* Django is set up against PostgreSQL (anything else is a clear error, exit 2), and
  against Redis as the Celery broker when the benchmark says `needs_redis`;
* the benchmark runs in a database of its own (`bench_<name>_<pid>`, migrated from
  scratch) dropped at the end, so the database named in DATABASE_URL is never touched;
* Celery tasks published on commit go to queues of their own that no worker consumes
  (`bench_<pid>_<queue>`), deleted at the end (`broker_messages` counts what was left);
* stdout carries exactly one JSON object (see report.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from . import report
from .databases import require_redis_url, setup_django, throwaway_database
from .queues import broker_lengths, private_task_queues
from .report import log
from .stats import ratio


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

    import foundation.queueing as queueing

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


def ledger_mismatches() -> list:
    """`ledger.selectors.ledger_mismatches()`, the first ten logged: levels whose balances
    or version differ from the sum of their movements (empty when the ledger is sound)."""
    from ledger.selectors import ledger_mismatches as mismatches_of_ledger

    mismatches = mismatches_of_ledger()
    for mismatch in mismatches[:10]:
        log(f"ledger mismatch: {mismatch}")
    return mismatches


def comparison_report(
    args: argparse.Namespace, comparison: Comparison, *, target_ratio: float
) -> dict[str, Any]:
    """The keys every alternating benchmark reports, the ledger checked afterwards: `pass`
    needs the ratio at target, no worker error and a sound ledger (`ledger_ok`)."""
    mismatches = ledger_mismatches()
    errors = comparison.errors
    return {
        "threads": args.threads,
        "seconds": args.seconds,
        "ratio": comparison.ratio,
        "target_ratio": target_ratio,
        "pass": comparison.ratio >= target_ratio and not errors and not mismatches,
        "ledger_ok": not mismatches,
        "round_ratios": comparison.round_ratios,
        "order": comparison.order,
        "errors": errors,
    }


# --- entry point -------------------------------------------------------------------------


def main(
    name: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], dict],
    *,
    needs_redis: bool = False,
    preflight: Callable[[], object] | None = None,
) -> None:
    """`preflight` runs before anything is created (check for a tool the run needs)."""

    def body(args: argparse.Namespace) -> dict:
        if preflight is not None:
            preflight()
        if needs_redis:
            # Without it Celery would publish to the file-system broker under ./var, where
            # a development worker could pick the benchmark's tasks up.
            require_redis_url()
        setup_django()
        with throwaway_database(name.split("_")[0]), private_task_queues() as queues:
            result = run(args)
            result.setdefault("broker_messages", sum(broker_lengths(queues).values()))
        return result

    report.main(name, parser, body)
