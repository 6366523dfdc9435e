"""Token buckets: how each simulated store enforces its channel's documented rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``rate`` tokens restored per second, at most ``burst`` stored."""

    rate: float
    burst: float


class TokenBucket:
    """A thread-safe token bucket; a request costs ``cost`` tokens (1 for plain calls,
    the query cost for Shopify's GraphQL)."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.limit.burst, self._tokens + (now - self._updated) * self.limit.rate)
        self._updated = now

    def take(self, cost: float = 1.0) -> float | None:
        """Spend ``cost`` tokens. Returns None when allowed, else the seconds to wait."""
        with self._lock:
            self._refill()
            if self._tokens >= cost:
                self._tokens -= cost
                return None
            if self.limit.rate <= 0:
                return float("inf")
            return (cost - self._tokens) / self.limit.rate

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens
