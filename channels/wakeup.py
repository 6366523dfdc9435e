"""Short-lived Redis flags that fold a burst of commits into one Celery task, and leases
that keep one worker on a job at a time.

A committer raises the flag and publishes a task only when its call raised it; the task
clears the flag before it reads the database, so anything committed after that read
raises the flag again and publishes another task. Nothing is lost when Redis is away:
every caller then publishes (which fails soft), and the beat sweepers catch up.
"""

from __future__ import annotations

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


def _redis(call, default):
    """`call(client)` on the flow-control Redis, or `default` without Redis or when it
    fails: flags and leases only save work the database-backed sweepers would also do."""
    if not settings.REDIS_URL:
        return default
    from .ratelimit import redis_client

    try:
        return call(redis_client())
    except Exception:  # noqa: BLE001 - see above
        return default


def flags_raise(keys: list[str]) -> list[int]:
    """Indexes (into `keys`) of the flags this call raised: all of them without Redis
    (every caller then publishes, which fails soft, and the sweeps catch up)."""
    everyone = list(range(len(keys)))
    if not keys:
        return everyone
    if len(keys) == 1:  # the common case (a webhook): one plain SET, no script
        raised = _redis(lambda client: client.set(keys[0], "1", nx=True, px=FLAG_MS), True)
        return everyone if raised else []
    raised = _redis(lambda client: client.eval(_RAISE, len(keys), *keys, FLAG_MS), None)
    return everyone if raised is None else [index - 1 for index in raised]


def flag_clear(key: str) -> None:
    _redis(lambda client: client.delete(key), None)  # else the flag expires by itself


def flag_is_raised(key: str) -> bool:
    return bool(_redis(lambda client: client.exists(key), False))


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
    taken = _redis(lambda client: client.set(key, lease.token, nx=True, px=ms), True)
    return lease if taken else None


def lease_renew(lease: Lease, ms: int) -> None:
    _lease_script(_RENEW, lease, ms)


def lease_release(lease: Lease) -> None:
    _lease_script(_RELEASE, lease)


def _lease_script(script: str, lease: Lease, *args) -> None:
    # Without Redis there is nothing to renew or free; a lost call expires by itself.
    _redis(lambda client: client.eval(script, 1, lease.key, lease.token, *args), None)
