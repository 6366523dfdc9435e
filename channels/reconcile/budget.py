"""Reconcile reads share the channel's token bucket with the pushes, but never starve
them: a read takes its tokens only while the bucket holds its cost *plus a reserve*
(RECONCILE_TOKEN_RESERVE of the burst) that only live pushes may spend. Pushes take
whatever is there; reads get what the pushes leave of the refill."""

from __future__ import annotations

import time

from django.conf import settings

from foundation import ratelimit

from ..models import Channel
from ..propagation.drain import _budget

POLL = 0.05  # how often a waiting read looks at the bucket again, at most


def reconcile_taker(channel: Channel, *, reserve_share: float | None = None):
    rate, burst = _budget(channel)
    share = settings.RECONCILE_TOKEN_RESERVE if reserve_share is None else reserve_share
    reserve = burst * share

    def take(cost: float = 1.0) -> None:
        cost = min(float(cost), float(burst))
        # More than the bucket can hold above the reserve: wait for a full bucket.
        wanted = min(cost + reserve, float(burst))
        while True:
            wait = ratelimit.wait_for(channel.slug, rate=rate, burst=burst, tokens=wanted)
            if wait <= 0 and ratelimit.take(channel.slug, rate=rate, burst=burst, tokens=cost) == 0:
                return
            time.sleep(min(max(wait, POLL), 1.0))

    return take
