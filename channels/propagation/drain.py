"""The outbox drainer: claim, push, read back, record.

1. Claim: SELECT pending due entries FOR UPDATE SKIP LOCKED (decreases first), mark
   them in flight with a lease, commit. Two workers never push the same entry; a worker
   killed mid-batch leaves entries whose lease expires and `outbox_sweep` frees them.
2. Push through the channel's adapter after taking tokens from its shared bucket.
3. Read back: an entry is confirmed only when the channel shows the target.
4. Record, per entry, in one transaction: confirmed; back to pending with backoff and
   jitter (at least 60 s after a 429 or timeout, Retry-After honoured); superseded when
   a newer target is already pending; dead (the DLQ) after the last attempt.

A channel that says nothing will work until the merchant acts (ChannelNeedsAction: a
refused credential, a missing scope) is marked as needing action (`attention`): its
entries stay pending with no attempt spent, and its drains stop, like an open breaker,
until the merchant changes its credentials or settings or presses "Try again".
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from foundation import ratelimit
from foundation.db import update_each
from foundation.metrics import PROPAGATION, PUSHES
from foundation.queueing import enqueue

from ..adapters.base import (
    ChannelError,
    ChannelNeedsAction,
    ChannelNotSent,
    ChannelRejected,
    ChannelThrottled,
    LevelPush,
    ListingRef,
    adapter_class,
    adapter_for,
)
from ..models import (
    Channel,
    ChannelAudit,
    ChannelAuditKind,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from ..tokens import channel_credential_store
from ..wakeup import lease_release, lease_renew, lease_take
from . import breaker
from .attention import channel_needs_action_mark
from .revisions import revisions_held, revisions_record
from .wake import DRAIN_TASK, drain_flag_clear, drain_flag_raised, drain_lease_key

logger = logging.getLogger(__name__)


def claim_lease(channel: Channel) -> timedelta:
    """How long a claimed batch is a worker's before the sweeper frees it: longer than a
    push with read-back can take. Amazon's feeds are processed asynchronously and can take
    minutes, so its channels get ten; a channel may set settings["claim_lease_seconds"]."""
    default = float(getattr(settings, "OUTBOX_CLAIM_LEASE_SECONDS", 90))
    if channel.kind == "amazon":
        default = max(default, 600.0)
    return timedelta(seconds=float((channel.settings or {}).get("claim_lease_seconds", default)))


THROTTLE_FLOOR = 60.0
STALE_RETRY = 2.0
MAX_BATCHES_PER_RUN = 50


MAX_TOKEN_WAIT = 1.0  # a worker slot is worth more than a short sleep
HOLD_RECHECK = 30.0  # a push held for its listing's revision budget is looked at again
# Outcomes of pushes that were never sent, or that the channel refused until its merchant
# acts ("needs_action"): the channel's service is neither failing nor fine, so the
# breaker is not fed and no attempt is spent.
NOT_SENT = ("deferred", "held", "needs_action")


class TokensExhausted(ChannelNotSent):
    """The hub's own bucket for this channel is empty for longer than a worker should
    wait: nothing was sent for the rest of the batch, no attempt is spent."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit: next token in {wait:.1f}s", wait=wait)


def token_taker(channel: Channel):
    """Called by the adapter before every HTTP request: take the request's cost (1 token,
    or Shopify's GraphQL query cost in points) from the channel's shared bucket, sleeping
    briefly when it holds too little."""

    rate, burst = channel_budget(channel)

    def take(cost: float = 1.0) -> None:
        # A request dearer than our whole bucket (a channel configured below what one call
        # costs) could never be granted: it waits for a full bucket and empties it instead,
        # and the channel's own throttle answer covers the rest.
        cost = min(float(cost), burst)
        waited = 0.0
        while wait := ratelimit.take(channel.slug, rate=rate, burst=burst, tokens=cost):
            if waited + wait > MAX_TOKEN_WAIT:
                raise TokensExhausted(wait)
            time.sleep(wait)
            waited += wait

    return take


# The most of a push's error kept: it often quotes what the channel answered, and that
# text is the channel's, not ours. Cut here, it is short wherever it lands: the entry's
# last_error (the DLQ) and the audit trail.
ERROR_LIMIT = 500


@dataclass
class Result:
    entry: OutboxEntry
    # confirmed | retry | dead | stale (compare-and-set refused) | deferred (no token) |
    # unconfirmed (accepted, but the read-back shows another number) | held (the
    # listing's revision budget, channels.revisions) | not_listed (refused, and the
    # channel does not carry the SKU: the listing becomes "not on channel")
    outcome: str
    error: str = ""
    wait: float | None = None
    channel_quantity: int | None = None
    # The channel's ids for a listing the hub had none for, found by SKU during the push.
    found: ListingRef | None = None
    # needs_action: what the merchant must do, in words (ChannelNeedsAction.action).
    action: str = ""

    def __post_init__(self) -> None:
        if len(self.error) > ERROR_LIMIT:
            self.error = self.error[: ERROR_LIMIT - 1] + "…"


def retry_schedule(channel: Channel) -> list[float]:
    custom = (channel.settings or {}).get("retry_schedule_seconds")
    return [float(s) for s in custom] if custom else list(settings.OUTBOX_RETRY_SCHEDULE_SECONDS)


def outbox_drain_channel(*, channel_id: int) -> int:
    """Push what the channel is owed, batch by batch. Returns entries handled.

    One worker drains a channel at a time (a Redis lease): a second drain would only split
    the batches and spend the channel's request budget twice as fast. A task that finds
    the lease held returns at once; the holder keeps claiming until nothing is left, and
    after letting go it looks at the drain flag once more, so a commit that lands just as
    it finishes is not left for the sweeper."""
    # A channel that needs its merchant is not drained at all: the attempt could only
    # be refused again (see `attention`); clearing the state wakes the drain.
    channel = Channel.objects.filter(pk=channel_id, enabled=True, needs_action="").first()
    if channel is None:
        return 0
    handled = 0
    hold_ms = _lease_ms(channel)
    while (lease := lease_take(drain_lease_key(channel.pk), hold_ms)) is not None:
        deferred_for = None
        try:
            count, deferred_for = _drain(channel, lease, hold_ms)
            handled += count
        finally:
            if deferred_for:
                # Out of budget: keep the lease until tokens are back, so the commits
                # meanwhile do not start drains that could only defer again. The sweep
                # enqueues the channel when its entries are due.
                lease_renew(lease, max(1, int(deferred_for * 900)))
            else:
                lease_release(lease)
        if deferred_for or not drain_flag_raised(channel.pk):
            break
    return handled


def _lease_ms(channel: Channel) -> int:
    """As long as a claim: a drainer killed mid-batch frees the channel when its claimed
    entries are freed. Renewed every batch."""
    return int(claim_lease(channel).total_seconds() * 1000)


def _drain(channel: Channel, lease, hold_ms: int) -> tuple[int, float | None]:
    """Batches until nothing is claimable. Returns (entries handled, seconds until the
    channel's budget allows more, when it ran out)."""
    handled = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        drain_flag_clear(channel.pk)  # commits from now on ask for another look
        lease_renew(lease, hold_ms)
        if channel.needs_action or not breaker.allows(channel.slug):
            # Open circuit: leave the rows pending (no attempt is spent); the sweep
            # comes back after the cool-down for the half-open trial. A channel that
            # needs its merchant waits for the merchant.
            break
        _pace(channel)
        entries = _claim(channel)
        if not entries:
            break
        results = _push(channel, entries)
        if sent := [r for r in results if r.outcome not in NOT_SENT]:
            failed = all(r.outcome in ("retry", "dead") for r in sent)
            breaker.record(channel.slug, ok=not failed)
        _record(channel, results)
        if actions := [r.action for r in results if r.outcome == "needs_action"]:
            if channel_needs_action_mark(channel=channel, action=actions[0]):
                channel.needs_action = actions[0]
            return handled, None
        deferred = [r.wait or 1.0 for r in results if r.outcome == "deferred"]
        if deferred:
            return handled, min(deferred)  # the sweep comes back when tokens refill
        handled += len(entries)
    return handled, None


def channel_budget(channel: Channel) -> tuple[float, int]:
    """The hub's share of the channel's limit (rate, burst): 10% under it, because its
    bucket and ours start and refill on different clocks and network jitter bunches
    requests up on arrival."""
    return channel.rate_limit_per_second * 0.9, max(1, int(channel.rate_limit_burst * 0.9))


def _pace(channel: Channel) -> None:
    """Before claiming, wait (briefly) until the budget covers a whole cycle for what is
    due: the claim then takes the freshest targets, and the push and its read-back go out
    back to back instead of the read waiting for tokens while newer sales pile up. What is
    due is counted again after each wait: sales keep arriving meanwhile, and a cycle paced
    for the entries due before the wait would leave its read-back short of tokens."""
    rate, burst = channel_budget(channel)
    cycle_cost = adapter_class(channel.kind).cycle_cost
    if not ratelimit.wait_for(
        channel.slug, rate=rate, burst=burst, tokens=cycle_cost(channel.batch_size)
    ):
        return  # the budget covers a whole batch: nothing to count
    deadline = time.monotonic() + MAX_TOKEN_WAIT
    while due := _due_count(channel):
        wait = ratelimit.wait_for(channel.slug, rate=rate, burst=burst, tokens=cycle_cost(due))
        left = deadline - time.monotonic()
        if wait <= 0 or left <= 0:
            return
        time.sleep(min(wait, left))


def _due_count(channel: Channel) -> int:
    """Entries the next claim would take (at most a batch)."""
    return (
        OutboxEntry.objects.filter(
            channel=channel, status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .values("id")[: channel.batch_size]
        .count()
    )


def _claim(channel: Channel) -> list[OutboxEntry]:
    now = timezone.now()
    lease = claim_lease(channel)
    with transaction.atomic():
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(channel=channel, status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            # One push per listing at a time: an older push finishing after a newer one
            # would leave the channel showing the older number.
            .exclude(
                Exists(
                    OutboxEntry.objects.filter(
                        listing_id=OuterRef("listing_id"), status=OutboxStatus.IN_FLIGHT
                    )
                )
            )
            .select_related("listing__sku")
            .order_by("priority", "next_attempt_at", "id")[: channel.batch_size]
        )
        for entry in entries:
            entry.status = OutboxStatus.IN_FLIGHT
            entry.claimed_until = now + lease
            entry.attempts += 1
        OutboxEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
            status=OutboxStatus.IN_FLIGHT, claimed_until=now + lease, attempts=F("attempts") + 1
        )
    return entries


def _ref(listing: Listing) -> ListingRef:
    return ListingRef(
        sku=listing.sku.code,
        external_id=listing.external_id,
        external_parent_id=listing.external_parent_id,
        external_location_id=listing.external_location_id,
    )


def _push(channel: Channel, entries: list[OutboxEntry]) -> list[Result]:
    """Send what the listings' revision budgets allow (`channels.revisions`), count what
    the channel accepted, and hold the rest back without spending an attempt. A held
    entry is looked at again within HOLD_RECHECK, by then perhaps with a newer target
    that may go at once (sold out, or half of what the channel shows)."""
    held = revisions_held(channel, entries)
    results = _send(channel, [entry for entry in entries if entry.pk not in held])
    revisions_record(
        channel,
        [r.entry.listing_id for r in results if r.outcome in ("confirmed", "unconfirmed")],
    )
    return results + [
        Result(
            entry,
            "held",
            f"revision budget: the listing may be revised again in {held[entry.pk]:.0f}s",
            min(held[entry.pk], HOLD_RECHECK),
        )
        for entry in entries
        if entry.pk in held
    ]


def _send(channel: Channel, entries: list[OutboxEntry]) -> list[Result]:
    if not entries:
        return []
    pushes = [
        LevelPush(
            ref=_ref(entry.listing),
            quantity=entry.quantity,
            expected=entry.listing.confirmed if channel.compare_and_set else None,
            # A new key per attempt: an idempotent receiver that acknowledged but did not
            # apply a write would otherwise replay that acknowledgement forever.
            key=f"hub-{channel.slug}-{entry.pk}-{entry.target_version}-{entry.attempts}",
        )
        for entry in entries
    ]
    try:
        with adapter_for(
            channel.kind,
            base_url=(channel.settings or {}).get("base_url", ""),
            # The signing secret of a storefront push is the channel's webhook secret
            # unless its credentials name a separate one.
            credentials={"webhook_secret": channel.webhook_secret, **(channel.credentials or {})},
            settings=channel.settings or {},
            timeout=float((channel.settings or {}).get("timeout_seconds", 10)),
            throttle=token_taker(channel),
            credential_store=channel_credential_store(channel),
        ) as adapter:
            outcomes = adapter.push_levels(pushes)
            not_listed = _not_listed(adapter, outcomes)
            # Read back by the refs the push resolved (ids it looked up by SKU included),
            # so the read does not look them up again.
            accepted = [outcome.ref for outcome in outcomes if outcome.status == "accepted"]
            try:
                shown = adapter.read_levels(accepted) if accepted else {}
            except ChannelNotSent as exc:
                # Pushed, but the budget ran out before the read-back: try again later,
                # keeping the ids the push looked up (or a big first push on a channel
                # whose ids are unknown would look them all up again, for ever).
                return [
                    Result(entry, "deferred", str(exc), exc.wait, found=_found(push, outcome))
                    for entry, push, outcome in zip(entries, pushes, outcomes, strict=True)
                ]
    except ChannelNotSent as exc:
        return [Result(entry, "deferred", str(exc), exc.wait) for entry in entries]
    except ChannelNeedsAction as exc:
        # Before ChannelRejected (its base): nothing is dead, the channel waits for its
        # merchant.
        return [
            Result(entry, "needs_action", f"needs action: {exc}", action=exc.action)
            for entry in entries
        ]
    except ChannelThrottled as exc:
        wait = max(exc.retry_after or 0, THROTTLE_FLOOR)
        return [Result(entry, "retry", f"throttled: {exc}", wait) for entry in entries]
    except ChannelRejected as exc:
        return [Result(entry, "dead", f"rejected: {exc}") for entry in entries]
    except ChannelError as exc:
        return [Result(entry, "retry", f"unavailable: {exc}", THROTTLE_FLOOR) for entry in entries]

    results = []
    for entry, push, outcome in zip(entries, pushes, outcomes, strict=True):
        if outcome.status == "accepted":
            quantity = shown.get(push.ref.sku)
            if quantity == entry.quantity:
                result = Result(entry, "confirmed", channel_quantity=quantity)
            else:
                result = Result(
                    entry,
                    "unconfirmed",
                    f"the channel acknowledged {entry.quantity} but shows {quantity}",
                    channel_quantity=quantity,
                )
            result.found = _found(push, outcome)  # looked up by SKU: keep it
            results.append(result)
        elif outcome.status == "deferred":
            results.append(Result(entry, "deferred", outcome.error, outcome.retry_after))
        elif outcome.status == "stale" and outcome.channel_quantity == entry.quantity:
            results.append(Result(entry, "confirmed", channel_quantity=entry.quantity))
        elif outcome.status == "stale":
            # Compare-and-set refused: the channel sold meanwhile. Not a failure: remember
            # what it shows (the next push compares against it) and try again shortly;
            # its sale webhook brings the hub's number down in the meantime.
            results.append(
                Result(
                    entry, "stale", f"stale: {outcome.error}", STALE_RETRY, outcome.channel_quantity
                )
            )
        elif outcome.status == "retry":
            wait = max(outcome.retry_after or 0, THROTTLE_FLOOR) if outcome.retry_after else None
            results.append(Result(entry, "retry", outcome.error, wait))
        elif outcome.ref.sku in not_listed:
            results.append(Result(entry, "not_listed", outcome.error))
        else:
            results.append(Result(entry, "dead", outcome.error))
    return results


def _not_listed(adapter, outcomes) -> set[str]:
    """The SKUs of refused pushes that the channel does not carry at all (a lookup by
    SKU finds nothing): not a failure to dead-letter but a state, "not on channel".
    Best effort: when the lookup itself fails, the refusals stay refusals."""
    refused = [o.ref.sku for o in outcomes if o.status == "failed"]
    if not refused:
        return set()
    try:
        found = adapter.find_listings(refused)
    except ChannelError as exc:
        logger.info("could not tell whether %s are listed: %s", refused[:5], exc)
        return set()
    return {sku for sku in refused if sku not in found}


def _found(push: LevelPush, outcome) -> ListingRef | None:
    """The channel's ids for a listing, when the push found ids the hub had not."""
    fields = ("external_id", "external_parent_id", "external_location_id")
    learned = any(getattr(outcome.ref, f) and not getattr(push.ref, f) for f in fields)
    return outcome.ref if learned else None


def _backoff(attempt: int, schedule: list[float]) -> float:
    base = schedule[min(attempt - 1, len(schedule) - 1)]
    return base * random.uniform(0.8, 1.2)


def _record(channel: Channel, results: list[Result]) -> None:
    """Record what each push came to, in one transaction: the entry's new status, what
    the listing now shows, the metrics, and an audit row for what went wrong."""
    now = timezone.now()
    schedule = retry_schedule(channel)
    with transaction.atomic():
        listings, newer = _lock_listings(results)
        # A listing removed while its push was out (unmapped, its SKU's test data cleaned
        # up) took its entries with it: nothing is left to record for those.
        results = [r for r in results if r.entry.listing_id in listings]
        audits = []
        for result in results:
            entry, listing = result.entry, listings[result.entry.listing_id]
            entry.claimed_until = None
            entry.last_error = result.error
            _adopt_found_ids(listing, result.found)
            if result.channel_quantity is not None and result.outcome != "confirmed":
                listing.confirmed = result.channel_quantity
            message = _settle(
                entry,
                listing,
                result,
                newer=listing.pk in newer,
                schedule=schedule,
                now=now,
            )
            if entry.status == OutboxStatus.CONFIRMED:
                PROPAGATION.labels(channel=channel.slug).observe(
                    (now - entry.enqueued_at).total_seconds()
                )
            PUSHES.labels(channel=channel.slug, outcome=entry.status).inc()
            if result.outcome not in ("confirmed", *NOT_SENT):
                # A confirmation is on the entry itself (confirmed_at; the SKU's trail
                # reads it there), and a push our own budget held back is no event of
                # the channel's: the audit keeps what went wrong and what people did.
                audits.append(_failure_audit(channel, entry, listing, message))
        _save_outcomes(results, listings, audits)
        if unlisted := [r.entry.listing_id for r in results if r.outcome == "not_listed"]:
            OutboxEntry.objects.filter(listing_id__in=unlisted, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.NOT_LISTED, last_error="the channel does not list the SKU"
            )


def _lock_listings(results: list[Result]) -> tuple[dict[int, Listing], set[int]]:
    """The pushed listings, locked in id order, and those that already have a newer
    pending target (their entry is superseded rather than retried)."""
    listing_ids = sorted(result.entry.listing_id for result in results)
    listings = {
        listing.pk: listing
        for listing in Listing.objects.select_for_update().filter(pk__in=listing_ids).order_by("pk")
    }
    newer = set(
        OutboxEntry.objects.filter(
            listing_id__in=listing_ids, status=OutboxStatus.PENDING
        ).values_list("listing_id", flat=True)
    )
    return listings, newer


def _adopt_found_ids(listing: Listing, found: ListingRef | None) -> None:
    """The channel told us ids the listing lacked (looked up by SKU; Amazon's product
    type): keep them, never overwriting one the listing has."""
    if found is None:
        return
    listing.external_id = listing.external_id or found.external_id
    listing.external_parent_id = listing.external_parent_id or found.external_parent_id
    listing.external_location_id = listing.external_location_id or found.external_location_id


def _settle(
    entry: OutboxEntry,
    listing: Listing,
    result: Result,
    *,
    newer: bool,
    schedule: list[float],
    now,
) -> str:
    """Set the entry's next status (and the listing's state) from the push's outcome;
    return what happened, in words, for the audit."""
    if result.outcome == "confirmed":
        return _confirm(entry, listing, newer=newer, now=now)
    if result.outcome == "not_listed":
        # No DLQ entry and no more pushes until a reconcile or a mapping finds it listed.
        entry.status = OutboxStatus.NOT_LISTED
        listing.state = ListingState.NOT_ON_CHANNEL
        return f"not on the channel, no more pushes: {result.error}"
    if entry.target_version < listing.confirmed_version:
        # The channel already confirmed a newer target: never push this one again.
        entry.status = OutboxStatus.SUPERSEDED
        return f"superseded: version {listing.confirmed_version} is confirmed"
    if result.outcome in ("deferred", "held", "stale", "needs_action") and not newer:
        # Neither is the channel failing: no attempt is spent, no backoff grows.
        entry.status = OutboxStatus.PENDING
        entry.attempts -= 1
        entry.next_attempt_at = now + timedelta(seconds=result.wait or 1)
        if result.outcome == "needs_action":
            entry.next_attempt_at = now  # due the moment the merchant has acted
        listing.state = ListingState.PENDING
        return f"{result.outcome}: {result.error}"
    if newer:
        entry.status = OutboxStatus.SUPERSEDED
        return f"superseded while pushing {entry.quantity}: {result.error}"
    if result.outcome == "dead" or entry.attempts >= len(schedule):
        entry.status = OutboxStatus.DEAD
        listing.state = ListingState.DEAD
        return f"dead after {entry.attempts} attempt(s): {result.error}"
    if result.outcome == "unconfirmed":
        # The channel answered, but shows another number. Most often a sale on that
        # channel landed between our write and our read (its webhook then brings a newer
        # target): look again within seconds, not on the failure schedule. A channel
        # that keeps dropping writes still runs out of attempts (2, 4, 8 ... s) and lands
        # in the DLQ within minutes.
        wait = min(STALE_RETRY * 2 ** (entry.attempts - 1), _backoff(entry.attempts, schedule))
        listing.state = ListingState.PENDING if entry.attempts == 1 else ListingState.ERROR
    else:
        wait = max(result.wait or 0, _backoff(entry.attempts, schedule))
        listing.state = ListingState.ERROR
    entry.status = OutboxStatus.PENDING
    entry.next_attempt_at = now + timedelta(seconds=wait)
    return f"retry in {wait:.0f}s: {result.error}"


def _confirm(entry: OutboxEntry, listing: Listing, *, newer: bool, now) -> str:
    entry.status, entry.confirmed_at = OutboxStatus.CONFIRMED, now
    if entry.target_version >= listing.confirmed_version:
        listing.confirmed = entry.quantity
        listing.confirmed_version = entry.target_version
        listing.confirmed_at = now
        if not newer:
            listing.state = ListingState.IN_SYNC
    return f"confirmed {entry.quantity}"


def _failure_audit(
    channel: Channel, entry: OutboxEntry, listing: Listing, message: str
) -> ChannelAudit:
    dead = entry.status == OutboxStatus.DEAD
    kind = ChannelAuditKind.DEAD if dead else ChannelAuditKind.FAIL
    if entry.status == OutboxStatus.NOT_LISTED:
        kind = ChannelAuditKind.NOT_LISTED
    return ChannelAudit(
        kind=kind,
        channel=channel,
        sku_id=listing.sku_id,
        outbox_entry=entry,
        message=message,
        data={"quantity": entry.quantity, "attempt": entry.attempts},
    )


def _save_outcomes(
    results: list[Result], listings: dict[int, Listing], audits: list[ChannelAudit]
) -> None:
    update_each(
        OutboxEntry,
        [r.entry for r in results],
        ["status", "attempts", "claimed_until", "last_error", "next_attempt_at", "confirmed_at"],
    )
    update_each(
        Listing,
        list(listings.values()),
        [
            "confirmed",
            "confirmed_version",
            "confirmed_at",
            "state",
            "external_id",
            "external_parent_id",
            "external_location_id",
        ],
    )
    ChannelAudit.objects.bulk_create(audits)


def outbox_sweep(*, now=None) -> int:
    """Free expired claims (a worker died mid-batch) and enqueue channels with due work."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            OutboxEntry.objects.select_for_update(skip_locked=True).filter(
                status=OutboxStatus.IN_FLIGHT, claimed_until__lt=now
            )
        )
        listing_ids = sorted({entry.listing_id for entry in expired})
        # Lock the listings first (as _record does): a stock movement adding a pending
        # entry for one of them meanwhile would otherwise collide with ours.
        list(Listing.objects.select_for_update().filter(pk__in=listing_ids).order_by("pk"))
        pending_listings = set(
            OutboxEntry.objects.filter(
                listing_id__in=listing_ids, status=OutboxStatus.PENDING
            ).values_list("listing_id", flat=True)
        )
        for entry in expired:
            if entry.listing_id in pending_listings:
                entry.status = OutboxStatus.SUPERSEDED
            else:
                entry.status = OutboxStatus.PENDING
                pending_listings.add(entry.listing_id)
            entry.claimed_until = None
            entry.next_attempt_at = now
            entry.last_error = "claim expired: the worker stopped before recording a result"
        update_each(
            OutboxEntry, expired, ["status", "claimed_until", "next_attempt_at", "last_error"]
        )
    channel_ids = set(
        OutboxEntry.objects.filter(
            Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now),
            channel__enabled=True,
            channel__needs_action="",
        ).values_list("channel_id", flat=True)
    )
    for channel_id in sorted(channel_ids):
        enqueue(DRAIN_TASK, channel_id)
    return len(channel_ids)
