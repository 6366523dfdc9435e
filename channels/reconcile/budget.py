"""Reconcile reads share the channel's token bucket with the pushes, but never starve
them: a read takes its tokens only while the bucket holds its cost *plus a reserve*
(RECONCILE_TOKEN_RESERVE of the burst) that only live pushes may spend. Pushes take
whatever is there; reads get what the pushes leave of the refill."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from foundation import ratelimit

from ..models import Channel, OutboxEntry, OutboxStatus
from ..propagation.drain import channel_budget

POLL = 0.05  # how often a waiting read looks at the bucket again, at most
# A reconcile batch waits at most this long for live pushes to go out first.
YIELD_AT_MOST = 1.0


def reconcile_taker(channel: Channel, *, reserve_share: float | None = None):
    rate, burst = channel_budget(channel)
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


def yield_to_pushes() -> None:
    """Before each batch, let the live pushes already due go first. Tokens are not all:
    a reconcile and the drainers share the worker's CPU (and a threaded worker's GIL), and
    comparing a batch of 250 listings would hold a sale's push back by as long. It waits
    for the pushes due now to be claimed, not for new ones, and at most YIELD_AT_MOST, so
    a steady stream of sales slows a reconcile down but never stops it."""
    due = list(
        OutboxEntry.objects.filter(
            status=OutboxStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
            attempts=0,  # fresh pushes of live changes, not a failing channel's retries
            channel__enabled=True,
        ).values_list("pk", flat=True)[:200]
    )
    give_up = time.monotonic() + YIELD_AT_MOST
    while due and time.monotonic() < give_up:
        time.sleep(POLL)
        due = list(
            OutboxEntry.objects.filter(pk__in=due, status=OutboxStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
