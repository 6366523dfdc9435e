"""HTTP load from wrk (C, event loop): the load generator costs a fraction of what a
Python client would, so a benchmark measures the server, not itself.

wrk's Lua has no HMAC, so signed requests are prepared here: `write_deliveries` writes
one pre-signed delivery a line and bench/wrk/deliveries.lua cycles through them, one
distinct delivery per request, closed loop or paced at a fixed rate.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .processes import run_measured
from .report import ROOT, BenchError

SCRIPT = ROOT / "bench" / "wrk" / "deliveries.lua"


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(
            "wrk is not installed: this benchmark drives HTTP with it. Install it (Debian / "
            "Ubuntu: `apt-get install -y wrk`, macOS: `brew install wrk`) and run it again."
        )
    return path


def write_deliveries(path: Path, rows: Iterable[tuple[str, str, str, str, bytes]]) -> int:
    """Write (webhook id, event id, HMAC, triggered-at, body) rows for deliveries.lua;
    returns how many. Bodies must be one line (compact JSON)."""
    count = 0
    with open(path, "wb") as out:
        for webhook_id, event_id, signature, triggered, body in rows:
            if b"\n" in body or b"\t" in body:
                raise ValueError("a delivery body must be one line without tabs")
            out.write(f"{webhook_id}\t{event_id}\t{signature}\t{triggered}\t".encode())
            out.write(body + b"\n")
            count += 1
    return count


@dataclass
class WrkRun:
    """One wrk run: what its Lua script counted and wrk's latency histogram (from the
    start of each request's write to its answer)."""

    seconds: float
    requests: int  # answers received (wrk's count)
    ok: int  # 2xx answers
    non2xx: int
    duplicates: int  # 2xx answers saying "duplicate"
    socket_errors: int  # connect + read + write + timeout
    sent: int  # requests handed to wrk (answered or in flight when it stopped)
    wrapped: int  # times a thread ran out of deliveries and started over
    late: int  # paced runs: requests sent more than 5 ms after their slot
    max_late_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float  # wrk's own user + system time
    raw: dict

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    path: str,
    deliveries: Path,
    *,
    seconds: int,
    connections: int,
    threads: int,
    rate: float = 0.0,
    ids_prefix: str = "-",
    timeout_s: int = 10,
) -> WrkRun:
    """wrk against url+path for `seconds` (whole seconds: wrk's unit), closed loop or at
    `rate` requests/s; `ids_prefix` collects the event ids of 2xx answers (see the script)."""
    wrk = require_wrk()
    threads = max(1, min(threads, connections))
    finished = run_measured(
        [
            wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, seconds)}s",
            "--timeout", f"{timeout_s}s", "--latency", "-s", str(SCRIPT), url, "--",
            str(deliveries), path, str(rate), ids_prefix, str(threads),
        ],
        timeout=seconds + timeout_s + 60,
    )  # fmt: skip
    line = next((ln for ln in finished.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if finished.returncode or line is None:
        raise BenchError(
            f"wrk failed (exit {finished.returncode}):\n{finished.stdout[-1500:]}\n"
            f"{finished.stderr[-1500:]}"
        )
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    errors = raw["errors"]
    return WrkRun(
        seconds=raw["duration_us"] / 1e6,
        requests=raw["requests"],
        ok=raw["ok"],
        non2xx=raw["non2xx"],
        duplicates=raw["duplicates"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        sent=raw["sent"],
        wrapped=raw["wrapped"],
        late=raw["late"],
        max_late_ms=round(float(raw["max_late_ms"]), 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        cpu_seconds=finished.cpu_seconds,
        raw=raw,
    )
