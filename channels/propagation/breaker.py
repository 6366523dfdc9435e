"""A circuit breaker per channel, shared by every worker.

Opens when at least 70% of at least 10 push calls in the last 5 minutes failed; stays
open 30 s; then lets one trial call through (half-open): success closes it and forgets
the window, failure opens it again. While open, the drainer leaves entries pending, so a
failing channel costs no attempts and never delays the other channels.

State lives in Redis when REDIS_URL is set, otherwise in the process (the embedded
default runs a single worker).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from foundation.redis import redis_client

WINDOW_SECONDS = 300
MIN_CALLS = 10
FAILURE_RATIO = 0.7
OPEN_SECONDS = 30


@dataclass(frozen=True)
class BreakerState:
    state: str  # closed | open | half_open
    calls: int
    failures: int
    retry_in: float = 0.0


class _Memory:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, list[tuple[float, bool]]] = {}
        self.opened: dict[str, float] = {}


_memory = _Memory()


def _observe(slug: str, now: float, ok: bool | None = None) -> tuple[int, int, float | None]:
    """Forget calls older than the window, add this call's outcome (unless `ok` is None),
    and answer (calls, failures, opened at). One Redis round trip: the drainer asks
    twice per batch."""
    if settings.REDIS_URL:
        calls_key, failures_key = f"breaker:{slug}:calls", f"breaker:{slug}:failures"
        pipe = redis_client().pipeline()
        for key in (calls_key, failures_key):
            pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
        if ok is not None:
            member = f"{now:.6f}:{threading.get_ident()}"
            for key in (calls_key,) if ok else (calls_key, failures_key):
                pipe.zadd(key, {member: now})
                pipe.expire(key, WINDOW_SECONDS + 60)
        pipe.zcard(calls_key)
        pipe.zcard(failures_key)
        pipe.get(f"breaker:{slug}:opened")
        *_, calls, failures, opened = pipe.execute()
        return calls, failures, float(opened) if opened else None
    with _memory.lock:
        recent = [c for c in _memory.calls.get(slug, []) if c[0] > now - WINDOW_SECONDS]
        if ok is not None:
            recent.append((now, ok))
        _memory.calls[slug] = recent
        return len(recent), sum(1 for _, fine in recent if not fine), _memory.opened.get(slug)


def _state(now: float, calls: int, failures: int, opened: float | None) -> BreakerState:
    if opened is None:
        return BreakerState("closed", calls, failures)
    if now - opened < OPEN_SECONDS:
        return BreakerState("open", calls, failures, OPEN_SECONDS - (now - opened))
    return BreakerState("half_open", calls, failures)


def state(slug: str) -> BreakerState:
    now = time.time()
    return _state(now, *_observe(slug, now))


def allows(slug: str) -> bool:
    """May a push call be made now? Closed and half-open (the trial) say yes."""
    return state(slug).state != "open"


def record(slug: str, *, ok: bool) -> BreakerState:
    """Record one push call's outcome and open or close the breaker accordingly."""
    now = time.time()
    calls, failures, opened = _observe(slug, now, ok)
    before = _state(now, calls, failures, opened)
    if before.state == "half_open":
        if ok:
            _close(slug)
            return BreakerState("closed", 0, 0)
        _open(slug, now)
        return BreakerState("open", calls, failures, OPEN_SECONDS)
    if before.state == "closed" and calls >= MIN_CALLS and failures / calls >= FAILURE_RATIO:
        _open(slug, now)
        return BreakerState("open", calls, failures, OPEN_SECONDS)
    return before


def _open(slug: str, now: float) -> None:
    if settings.REDIS_URL:
        redis_client().set(f"breaker:{slug}:opened", now, ex=WINDOW_SECONDS)
    else:
        with _memory.lock:
            _memory.opened[slug] = now


def _close(slug: str) -> None:
    if settings.REDIS_URL:
        redis_client().delete(
            f"breaker:{slug}:opened", f"breaker:{slug}:calls", f"breaker:{slug}:failures"
        )
    else:
        with _memory.lock:
            _memory.opened.pop(slug, None)
            _memory.calls.pop(slug, None)


def reset(slug: str) -> None:
    """Forget everything (a person fixed the channel; tests)."""
    _close(slug)
