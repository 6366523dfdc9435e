"""Per-listing revision caps: eBay lets a listing be revised at most 250 times per calendar
day. A flash sale that moves a SKU every second would spend that in four minutes, and
eBay would then refuse every update to the listing for the rest of the day, leaving it
selling what the hub no longer has.

The hub counts each listing's accepted pushes over the last 24 hours (a rolling window,
so every calendar day stays under the cap whatever eBay's time zone) and spends them so:

* The first half of the cap goes freely: a sale is on the channel within a second.
* After that, increases and small decreases are spaced out, so the rest of the cap
  (less a reserve) lasts a whole window: the next one waits WINDOW / what is left since
  the previous revision, or until the oldest revision leaves the window, whichever comes
  first. Coalescing means the push that finally goes carries the newest target.
* A decrease to half or less of what the channel shows goes at once while the cap
  allows: the channel then never shows more than twice what the hub would publish, and
  a run of such halvings costs a handful of revisions, not one per sale.
* A push to 0 (sold out) goes at once and may spend the reserve (a tenth of the cap).
* At the cap nothing goes until the oldest revision leaves the window.

A push held back is not a failure: the entry stays pending, no attempt is spent, and the
drainer comes back to it when the wait is over. Counts live in Redis (sorted sets of
timestamps, expiring with the window), in the process for the embedded default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.conf import settings

from foundation.redis import redis_client

from ..adapters.base import adapter_class
from ..models import Channel, OutboxEntry

WINDOW = 24 * 3600.0
RESERVE_SHARE = 0.1


def revision_cap(channel: Channel) -> int | None:
    """Revisions a listing of this channel may take per day: the channel's setting
    ``revisions_per_listing_per_day`` (0 turns the cap off), else its kind's (eBay 250)."""
    custom = (channel.settings or {}).get("revisions_per_listing_per_day")
    if custom is not None:
        return int(custom) or None
    return adapter_class(channel.kind).revisions_per_listing_per_day


def revision_wait(
    *,
    cap: int,
    used: int,
    last_at: float | None,
    oldest_at: float | None,
    now: float,
    quantity: int,
    shown: int | None,
) -> float:
    """Seconds before a listing that took `used` revisions in the window (the newest at
    `last_at`, the oldest at `oldest_at`) may be set to `quantity` while the channel
    shows `shown`; 0 when it may go now (see the module notes)."""
    frees_up = max(0.0, (oldest_at or now) + WINDOW - now)
    if used >= cap:
        return frees_up
    reserve = max(1, int(cap * RESERVE_SHARE))
    if quantity == 0:
        return 0.0
    if used >= cap - reserve:
        return frees_up
    if used < cap // 2:
        return 0.0
    if shown is not None and quantity * 2 <= shown:
        return 0.0
    spaced = max(0.0, (last_at or now) + WINDOW / (cap - reserve - used) - now)
    return min(spaced, frees_up)


def revisions_held(channel: Channel, entries: list[OutboxEntry]) -> dict[int, float]:
    """The entries (by id) that must wait for their listing's revision budget, with how
    long. Empty for a channel without a cap."""
    cap = revision_cap(channel)
    if not cap or not entries:
        return {}
    now = time.time()
    counts = _store().window(channel.pk, [entry.listing_id for entry in entries], now)
    held = {}
    for entry in entries:
        used, oldest_at, last_at = counts[entry.listing_id]
        wait = revision_wait(
            cap=cap,
            used=used,
            last_at=last_at,
            oldest_at=oldest_at,
            now=now,
            quantity=entry.quantity,
            shown=entry.listing.confirmed,
        )
        if wait > 0:
            held[entry.pk] = wait
    return held


def revisions_record(channel: Channel, listing_ids: Iterable[int]) -> None:
    """Count one revision for each of these listings (pushes the channel accepted)."""
    listing_ids = list(listing_ids)
    if listing_ids and revision_cap(channel):
        _store().add(channel.pk, listing_ids, time.time())


def revisions_used(channel: Channel, listing_id: int) -> int:
    """Revisions the listing took in the last 24 hours."""
    return _store().window(channel.pk, [listing_id], time.time())[listing_id][0]


# --- where the counts live ---------------------------------------------------------------


class _RedisStore:
    @staticmethod
    def _key(channel_id: int, listing_id: int) -> str:
        return f"revisions:{channel_id}:{listing_id}"

    def window(self, channel_id: int, listing_ids: list[int], now: float) -> dict:
        pipe = redis_client().pipeline(transaction=False)
        for listing_id in listing_ids:
            key = self._key(channel_id, listing_id)
            pipe.zremrangebyscore(key, 0, now - WINDOW)
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.zrange(key, -1, -1, withscores=True)
        answers = pipe.execute()
        counts = {}
        for index, listing_id in enumerate(listing_ids):
            _, used, oldest, newest = answers[index * 4 : index * 4 + 4]
            counts[listing_id] = (
                used,
                oldest[0][1] if oldest else None,
                newest[0][1] if newest else None,
            )
        return counts

    def add(self, channel_id: int, listing_ids: list[int], now: float) -> None:
        pipe = redis_client().pipeline(transaction=False)
        member = f"{now:.6f}:{threading.get_ident()}"
        for listing_id in listing_ids:
            key = self._key(channel_id, listing_id)
            pipe.zadd(key, {member: now})
            pipe.expire(key, int(WINDOW) + 60)
        pipe.execute()


class _MemoryStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[tuple[int, int], list[float]] = {}

    def window(self, channel_id: int, listing_ids: list[int], now: float) -> dict:
        with self.lock:
            counts = {}
            for listing_id in listing_ids:
                recent = [
                    t for t in self.times.get((channel_id, listing_id), []) if t > now - WINDOW
                ]
                self.times[(channel_id, listing_id)] = recent
                counts[listing_id] = (
                    len(recent),
                    recent[0] if recent else None,
                    recent[-1] if recent else None,
                )
            return counts

    def add(self, channel_id: int, listing_ids: list[int], now: float) -> None:
        with self.lock:
            for listing_id in listing_ids:
                self.times.setdefault((channel_id, listing_id), []).append(now)


_redis_store = _RedisStore()
_memory = _MemoryStore()


def _store():
    return _redis_store if settings.REDIS_URL else _memory
