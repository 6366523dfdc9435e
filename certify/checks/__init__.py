"""The buyer's five tests, one module each. Every module has NAME, TITLE, MEASURES and
run(ctx) -> Result; `ctx` is a certify.runner.Context (the workspace, the options, the
progress bar)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class Threshold:
    """One stated criterion: what it says, what was found, whether it holds."""

    label: str
    ok: bool
    found: str


@dataclass
class Result:
    name: str
    title: str
    measures: str
    status: str = PASS
    figures: dict[str, Any] = field(default_factory=dict)
    thresholds: list[Threshold] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Series for the report's charts: {"latencies_ms": [...], ...}.
    series: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def require(self, label: str, ok: bool, found: str) -> bool:
        """Record a criterion; a failed one fails the test with its reason."""
        self.thresholds.append(Threshold(label, bool(ok), found))
        if not ok:
            self.status = FAIL
            self.reasons.append(f"{label}: {found}")
        return bool(ok)

    def skip(self, reason: str) -> Result:
        self.status = SKIP
        self.reasons.append(reason)
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


from . import audit, bulk, burst, concurrent, recovery  # noqa: E402

ALL = [burst, concurrent, recovery, bulk, audit]
NAMES = [module.NAME for module in ALL]
# Recovery runs first: the circuit breaker judges a channel over its last 5 minutes, and
# a channel that has just pushed a burst's worth of successes would need minutes of
# failures to open. The report keeps the buyer's order (NAMES).
RUN_ORDER = ["recovery", "burst", "concurrent", "bulk", "audit"]
