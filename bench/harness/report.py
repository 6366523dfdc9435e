"""The contract every benchmark keeps with its caller: one JSON object on stdout, logs on
stderr, and an exit code that says whether the run completed.

Exit codes: 0 a completed run (whatever the figures, unless --strict and a target is
missed), 1 a failed run (a worker or request error, a broken ledger invariant), 2 the
benchmark cannot run here (`BenchError`: no PostgreSQL, no wrk, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class BenchError(Exception):
    """The benchmark cannot run here; the message says why and what to do."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def git_state() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return "unknown"
    return f"{head}{f' + {len(dirty)} modified files' if dirty else ''}"


def machine() -> dict:
    """What the figures were measured on: cores, CPU model, memory, Python."""
    import platform

    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                "",
            )
    except OSError:
        pass
    try:
        memory = f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.1f} GiB"
    except (ValueError, OSError):
        memory = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory": memory,
        "python": platform.python_version(),
    }


def failed(result: dict) -> bool:
    """A run that did not complete cleanly: errors reported, or the ledger left inconsistent."""
    return bool(result.get("errors")) or result.get("ledger_ok") is False


def main(
    name: str,
    parser: argparse.ArgumentParser,
    body: Callable[[argparse.Namespace], dict],
    *,
    cleanup: Callable[[], None] | None = None,
) -> None:
    """Parse the flags, run `body(args)` and print its dict as the one line on stdout.

    Anything else written to file descriptor 1 (a print, a handler bound to sys.stdout, a
    library writing to fd 1) lands on stderr instead. `cleanup` runs whatever happened.
    """
    args = parser.parse_args()
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    code = 0
    try:
        result = body(args)
        code = (
            1
            if failed(result) or (getattr(args, "strict", False) and not result.get("pass"))
            else 0
        )
    except BenchError as exc:
        log(f"error: {exc}")
        result, code = {"benchmark": name, "error": str(exc), "pass": False}, 2
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt too: clean up, report
        log("".join(traceback.format_exception(exc)).rstrip())
        result, code = {"benchmark": name, "error": repr(exc), "pass": False}, 1
    finally:
        if cleanup is not None:
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - the result still goes out
                log(f"cleanup failed: {exc!r}")
    result.setdefault("git", git_state())
    json_out.write(json.dumps(result) + "\n")
    json_out.flush()
    sys.exit(code)


def quiet_http_clients() -> None:
    """httpx logs every request at INFO: thousands of lines a second, and client CPU."""
    import logging

    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
