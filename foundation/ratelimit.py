"""A token bucket per key (a channel, an API operation) shared by every worker (Redis,
one atomic Lua script).

Without Redis (the embedded default) the bucket lives in the process: the embedded
default runs one worker, so that is the whole fleet.
"""

from __future__ import annotations

import threading
import time
from functools import cache

from django.conf import settings

from foundation.redis import redis_client

# ARGV: rate, burst, now, tokens wanted, and 1 to take them (0 only asks how long).
_LUA = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[2])
local stamp = tonumber(redis.call('HGET', KEYS[1], 's') or ARGV[3])
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, want = tonumber(ARGV[3]), tonumber(ARGV[4])
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = '0'
if tokens >= want then
  if ARGV[5] == '0' then return '0' end
  tokens = tokens - want
else
  wait = tostring((want - tokens) / rate)
  if ARGV[5] == '0' then return wait end
end
redis.call('HSET', KEYS[1], 't', tokens, 's', now)
redis.call('EXPIRE', KEYS[1], 3600)
return wait
"""


@cache
def _bucket_script():
    return redis_client().register_script(_LUA)


_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


def take(channel_slug: str, *, rate: float, burst: int, tokens: float = 1) -> float:
    """Take `tokens` from the channel's bucket, all or none: a request's cost (1, or e.g.
    Shopify's GraphQL query cost in points). Returns 0 when granted, otherwise the seconds
    to wait before asking again (nothing is taken).

    More tokens than the bucket holds could never be granted: that is a ValueError rather
    than a wait that never ends.
    """
    if tokens > burst:
        raise ValueError(f"cannot take {tokens} tokens from a bucket of {burst}")
    return _ask(channel_slug, rate=rate, burst=burst, tokens=tokens, take=True)


def wait_for(channel_slug: str, *, rate: float, burst: int, tokens: float) -> float:
    """Seconds until the bucket holds `tokens` (0: it does now). Takes nothing."""
    return _ask(channel_slug, rate=rate, burst=burst, tokens=min(tokens, burst), take=False)


def _ask(channel_slug: str, *, rate: float, burst: int, tokens: float, take: bool) -> float:
    """The bucket refilled to now: 0 when it holds `tokens` (taken if `take`), otherwise
    the seconds until it will."""
    now = time.time()
    if settings.REDIS_URL:
        script = _bucket_script()
        args = [rate, burst, now, tokens, 1 if take else 0]
        return float(script(keys=[f"ratelimit:{channel_slug}"], args=args))
    with _local_lock:
        level, stamp = _local.get(channel_slug, (float(burst), now))
        level = min(burst, level + max(0.0, now - stamp) * rate)
        if level >= tokens:
            if take:
                _local[channel_slug] = (level - tokens, now)
            return 0.0
        if take:
            _local[channel_slug] = (level, now)
        return (tokens - level) / rate
