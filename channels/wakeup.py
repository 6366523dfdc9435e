"""Short-lived Redis flags that fold a burst of commits into one Celery task, and leases
that keep one worker on a job at a time.

A committer raises the flag and publishes a task only when its call raised it; the task
clears the flag before it reads the database, so anything committed after that read
raises the flag again and publishes another task. Nothing is lost when Redis is away:
every caller then publishes (which fails soft), and the beat sweepers catch up.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from django.conf import settings

FLAG_MS = 2000
_RAISE = """
local raised = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'NX', 'PX', ARGV[1]) then table.insert(raised, i) end
end
return raised
"""


def flags_raise(keys: list[str]) -> list[int]:
    """Indexes (into `keys`) of the flags this call raised: all of them without Redis."""
    if not settings.REDIS_URL or not keys:
        return list(range(len(keys)))
    from .ratelimit import redis_client

    try:
        if len(keys) == 1:  # the common case (a webhook): one plain SET, no script
            return [0] if redis_client().set(keys[0], "1", nx=True, px=FLAG_MS) else []
        raised = redis_client().eval(_RAISE, len(keys), *keys, FLAG_MS)
    except Exception:  # noqa: BLE001 - no Redis: publish (which fails soft) and let sweeps catch up
        return list(range(len(keys)))
    return [index - 1 for index in raised]


def flag_clear(key: str) -> None:
    if not settings.REDIS_URL:
        return
    from .ratelimit import redis_client

    with contextlib.suppress(Exception):  # the flag expires by itself
        redis_client().delete(key)


def flag_is_raised(key: str) -> bool:
    if not settings.REDIS_URL:
        return False
    from .ratelimit import redis_client

    try:
        return bool(redis_client().exists(key))
    except Exception:  # noqa: BLE001 - without Redis the sweepers catch up
        return False


# --- leases: at most one holder at a time, for a while ----------------------------------

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    key: str
    token: str


def lease_take(key: str, ms: int) -> Lease | None:
    """Hold `key` for `ms` unless someone else does (None). Without Redis, or when Redis
    fails, every caller gets a lease: holders then only overlap, which is safe (the work
    they share is claimed row by row), just less thrifty."""
    lease = Lease(key, secrets.token_hex(8))
    if not settings.REDIS_URL:
        return lease
    from .ratelimit import redis_client

    try:
        taken = redis_client().set(key, lease.token, nx=True, px=ms)
    except Exception:  # noqa: BLE001 - fail open, see above
        return lease
    return lease if taken else None


def lease_renew(lease: Lease, ms: int) -> None:
    _lease_script(_RENEW, lease, ms)


def lease_release(lease: Lease) -> None:
    _lease_script(_RELEASE, lease)


def _lease_script(script: str, lease: Lease, *args) -> None:
    if not settings.REDIS_URL:
        return
    from .ratelimit import redis_client

    with contextlib.suppress(Exception):  # the lease expires by itself
        redis_client().eval(script, 1, lease.key, lease.token, *args)
