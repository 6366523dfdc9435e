"""Percentiles, summaries and the median-with-spread of repeated rounds."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(values: list[float], q: float, *, digits: int = 1) -> float | None:
    """Nearest rank; None for no values or when the rank lands on an infinite value (an
    operation that never completed)."""
    if not values:
        return None
    ordered = sorted(values)
    value = ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
    return None if math.isinf(value) else round(value, digits)


def summary(values: list[float]) -> dict[str, Any]:
    """n, p50/p95/p99, the largest finite value and how many never completed (inf)."""
    finite = [v for v in values if not math.isinf(v)]
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": round(max(finite), 1) if finite else None,
        "never": len(values) - len(finite),
    }


def spread(values: list[float | None], *, digits: int = 2) -> dict[str, Any]:
    """One figure measured in several rounds: its median, min and max, and every round.

    A wide min..max means the machine was doing something else for part of the run.
    Rounds without a value (None) are listed but left out of the median.
    """
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None, "rounds": list(values)}
    return {
        "median": round(statistics.median(known), digits),
        "min": round(min(known), digits),
        "max": round(max(known), digits),
        "rounds": [None if v is None else round(v, digits) for v in values],
    }


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0
