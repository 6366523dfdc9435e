"""Short-lived Redis flags that fold a burst of commits into one Celery task, and leases
that keep one worker on a job at a time.

A committer raises the flag and publishes a task only when its call raised it; the task
clears the flag before it reads the database, so anything committed after that read
raises the flag again and publishes another task. Nothing is lost when Redis is away:
every caller then publishes (which fails soft), and the beat sweepers catch up.

Where a task holds a lease while it loops (the drainer of a channel), a committer also
skips the publish while the lease is held: the holder releases it and *then* looks at the
flag once more, and the committer raises the flag and *then* looks at the lease, so one of
the two always sees the other (Redis runs each call whole, one after another).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from foundation.redis import redis_client

FLAG_MS = 2000
# KEYS: a flag then its ARGV[2] leases, for each flag. Answers the (1-based) flags this
# call raised while at least one of their leases was free (any flag raised, without
# leases).
_RAISE = """
local group = tonumber(ARGV[2])
local wake = {}
local n = 0
for i = 1, #KEYS, group + 1 do
  n = n + 1
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    local free = group == 0
    for j = 1, group do
      if redis.call('EXISTS', KEYS[i + j]) == 0 then free = true end
    end
    if free then table.insert(wake, n) end
  end
end
return wake
"""


@cache
def _script(client, source: str):
    """The registered script (sent once, then called by its hash)."""
    return client.register_script(source)


def _redis(call, default):
    """`call(client)` on the flow-control Redis, or `default` without Redis or when it
    fails: flags and leases only save work the database-backed sweepers would also do."""
    if not settings.REDIS_URL:
        return default
    try:
        return call(redis_client())
    except Exception:  # noqa: BLE001 - see above
        return default


def flags_raise(keys: list[str], *, unless_held: list[list[str]] | None = None) -> list[int]:
    """Indexes (into `keys`) of the flags this call raised: all of them without Redis
    (every caller then publishes, which fails soft, and the sweeps catch up). With
    `unless_held` (for each flag, the leases of the workers that serve it, as many for
    every flag), only those with a lease free: every holder looks at its flag again
    before it stops."""
    everyone = list(range(len(keys)))
    if not keys:
        return everyone
    leases = unless_held if unless_held is not None else [[] for _ in keys]
    grouped = [key for flag, held in zip(keys, leases, strict=True) for key in (flag, *held)]
    wake = _redis(
        lambda client: _script(client, _RAISE)(keys=grouped, args=[FLAG_MS, len(leases[0])]),
        None,
    )
    return everyone if wake is None else [index - 1 for index in wake]


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


def lease_take_any(keys: list[str], ms: int) -> Lease | None:
    """The first of these leases that nobody holds (None when all are held)."""
    for key in keys:
        if (lease := lease_take(key, ms)) is not None:
            return lease
    return None


def lease_renew(lease: Lease, ms: int) -> None:
    _lease_script(_RENEW, lease, ms)


def lease_release(lease: Lease) -> None:
    _lease_script(_RELEASE, lease)


def _lease_script(script: str, lease: Lease, *args) -> None:
    # Without Redis there is nothing to renew or free; a lost call expires by itself.
    _redis(
        lambda client: _script(client, script)(keys=[lease.key], args=[lease.token, *args]), None
    )
