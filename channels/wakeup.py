"""Short-lived Redis flags that fold a burst of commits into one Celery task.

A committer raises the flag and publishes a task only when its call raised it; the task
clears the flag before it reads the database, so anything committed after that read
raises the flag again and publishes another task. Nothing is lost when Redis is away:
every caller then publishes (which fails soft), and the beat sweepers catch up.
"""

from __future__ import annotations

import contextlib

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
