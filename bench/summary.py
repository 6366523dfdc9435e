"""Run every benchmark and write what they measured, each figure beside its target:
bench/results.json (every benchmark's JSON line, the machine, the date) and
bench/results.md (a Markdown table for the README).

    python3 scripts/services.py run -- uv run python -m bench.summary [--quick]

`--quick` runs each at reduced durations (a few minutes in all instead of about 20);
the table says so. Exit code 1 when a benchmark failed to run (its row says why), else 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.harness.report import ROOT, git_state, log, machine

BENCHES = ["ledger", "fanout", "ingest", "propagation", "reconcile", "dashboard"]
QUICK = {
    "ledger": ["--seconds", "3", "--rounds", "3"],
    "fanout": ["--seconds", "3", "--rounds", "3"],
    "ingest": ["--seconds", "6", "--latency-seconds", "6", "--rounds", "2"],
    "propagation": ["--seconds", "10", "--bulk-skus", "1000", "--no-bulk-connect"],
    "reconcile": ["--skus", "1000", "--rounds", "1"],
    "dashboard": ["--skus", "10000", "--drift", "1000", "--requests", "20"],
}

# (benchmark, figure, target, how the figure meets it)
FIGURES = [
    ("ledger_reservations", "ratio", "target_ratio", ">="),
    ("outbox_fanout", "ratio", "target_ratio", ">="),
    ("webhook_ingest", "ratio", "target_ratio", ">="),
    ("webhook_ingest", "p99_ms", "target_p99_ms", "<"),
    ("propagation", "p95_ms", "target_p95_ms", "<"),
    ("propagation", "p99_ms", "target_p99_ms", "<"),
    ("propagation", "bulk_seconds", "target_bulk_seconds", "<"),
    ("propagation", "rate_limit_violations", 0, "=="),
    ("reconcile", "reconcile_seconds", "targets.reconcile_seconds", "<"),
    ("reconcile", "peak_rss_mb", "targets.peak_rss_mb", "<"),
    ("reconcile", "latency_ratio", "targets.latency_ratio", "<="),
    *(
        ("dashboard", f"pages.{page}.large.ms.p95", "target_p95_ms", "<")
        for page in (
            "stock_first_page",
            "stock_search",
            "stock_filter",
            "sku_page",
            "drift_queue",
            "drift_filtered",
        )
    ),
]


def figure_of(result: dict[str, Any], path: Any) -> Any:
    """A figure by its dotted path; a spread of rounds gives its median."""
    if not isinstance(path, str):
        return path
    value: Any = result
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict) and "median" in value:
        value = value["median"]
    return value


def about_machine() -> dict[str, Any]:
    return {**machine(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def run_one(name: str, quick: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", f"bench.{name}", *(QUICK[name] if quick else [])]
    log(f"running {' '.join(command[1:])}")
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"benchmark": name, "error": "no JSON line"}
    result["exit_code"] = done.returncode
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def met(value: Any, target: Any, how: str) -> bool | None:
    if value is None or target is None:
        return None
    return {
        ">=": value >= target,
        "<": value < target,
        "<=": value <= target,
        "==": value == target,
    }[how]


def markdown(results: list[dict[str, Any]], about: dict[str, Any], quick: bool) -> str:
    lines = [
        f"Measured {about['date']} on {about['nproc']} cores ({about['cpu']}), "
        f"{about['memory']} memory; commit {about['git']}"
        + (" — **quick run** (reduced durations: `make bench BENCH_QUICK=1`)." if quick else "."),
        "",
        *(
            [
                "Quick flags: "
                + "; ".join(f"`bench.{name} {' '.join(flags)}`" for name, flags in QUICK.items()),
                "",
            ]
            if quick
            else []
        ),
        "| benchmark | figure | measured | target | met |",
        "|---|---|---|---|---|",
    ]
    by_name = {r.get("benchmark"): r for r in results}
    for bench, figure, target_key, how in FIGURES:
        result = by_name.get(bench)
        if result is None:
            continue
        if "error" in result:
            lines.append(f"| {bench} | — | could not run: {result['error'][:80]} | | ✗ |")
            continue
        value = figure_of(result, figure)
        target = figure_of(result, target_key)
        ok = met(value, target, how)
        mark = {True: "✓", False: "✗", None: "—"}[ok]
        lines.append(f"| {bench} | {figure} | {value} | {how} {target} | {mark} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced durations")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma separated")
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite results.md from results.json"
    )
    args = parser.parse_args()
    if args.table_only:
        saved = json.loads((ROOT / "bench" / "results.json").read_text())
        about = saved["machine"]
        (ROOT / "bench" / "results.md").write_text(
            markdown(saved["results"], about, about.get("quick", False))
        )
        return
    started = time.monotonic()
    results = [run_one(name, args.quick) for name in args.only.split(",") if name]
    about = {**about_machine(), "git": git_state(), "quick": args.quick}
    about["total_seconds"] = round(time.monotonic() - started, 1)
    (ROOT / "bench" / "results.json").write_text(
        json.dumps({"machine": about, "results": results}, indent=2) + "\n"
    )
    (ROOT / "bench" / "results.md").write_text(markdown(results, about, args.quick))
    log(f"wrote bench/results.json and bench/results.md in {about['total_seconds']:.0f} s")
    sys.exit(1 if any(r["exit_code"] not in (0,) for r in results) else 0)


if __name__ == "__main__":
    main()
