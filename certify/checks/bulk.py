"""Test 4, bulk: 500+ SKUs received at once (one receipt: one operation, one outbox
refresh), listed on every channel. Every listing must be confirmed at the received
quantity, every store must show it, with zero rate-limit violations and nothing dropped.

On the simulator, the stores' own counters say how many requests a limit would have
refused, and the control API shows what each store holds. Against the merchant's own
stores (``--channels ... --allow-writes``) neither exists: the stores must carry the
CERTIFY-BULK-* SKUs already (an adapter cannot create products, so a store without them
fails the test before anything is written, saying what to create), every listing is
confirmed by the drainer's read-back and read once more through the channel's adapter at
the end, and a rate-limit violation is an answer of the channel that throttled the hub
(429 or its throttle signal), counted from the drainer's records and certify's reads."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from channels.models import (
    Channel,
    ChannelAudit,
    ChannelAuditKind,
    Listing,
    OutboxEntry,
    OutboxStatus,
)
from ledger.services import stock_receive_lines

from .. import stores
from ..workspace import list_on_certify_channels
from . import Result
from .common import last_errors, listing_counts, store_mismatches, wait_confirmed

NAME = "bulk"
TITLE = "Bulk receipt"


def quantity(index: int) -> int:
    return 1 + (index * 37) % 97


def run(ctx) -> Result:
    opts, ws = ctx.opts, ctx.ws
    skus = ws.skus["bulk"] if ws is not None else []
    where = ", ".join(c.slug for c in ws.channels) if ws is not None and ws.real else ""
    result = Result(
        NAME,
        TITLE,
        f"{len(skus)} SKUs received at once on {where}; every listing confirmed by "
        "read-back through the channel's adapter, the channels' throttle answers, nothing "
        "dropped"
        if where
        else f"{len(skus)} SKUs received at once on "
        f"{len(ws.channels) if ws is not None else 0} channels; every listing "
        "confirmed, rate-limit violations, nothing dropped",
    )
    if ctx.skip_reason(NAME):
        return result.skip(ctx.skip_reason(NAME))
    total = len(skus) * len(ws.channels)
    ctx.progress.begin(NAME, total, "receiving")
    own_throttled = 0
    if ws.real:
        carried, own_throttled = stores_carry(ctx, result, skus)
        if not carried:
            return result
    before = ws.sim.stats()["stores"] if not ws.real else {}
    since = time.monotonic()
    started_at = timezone.now()
    with transaction.atomic():
        list_on_certify_channels(ws, skus)
        for location in ws.receiving_locations:
            stock_receive_lines(
                lines=[(sku, quantity(i)) for i, sku in enumerate(skus)],
                location=location,
                origin=ws.origin(f"bulk receipt of {len(skus)} SKUs"),
            )
    ctx.state["bulk_sku"] = skus[0].code
    received_seconds = time.monotonic() - since
    per_channel: dict[str, float] = {}

    def progress(done: int, all_: int) -> None:
        ctx.progress.update(done, all_, note="listings confirmed")
        elapsed = time.monotonic() - since
        for channel in ws.channels:
            if channel.slug in per_channel:
                continue
            synced, count = listing_counts([channel.channel_id], ws.sku_ids("bulk"))
            if synced == count:
                per_channel[channel.slug] = round(elapsed, 1)

    done, waited = wait_confirmed(
        ws.channel_ids, ws.sku_ids("bulk"), timeout=opts.bulk_timeout, progress=progress
    )
    seconds = time.monotonic() - since
    if ws.real:
        read = read_back(ws, skus, result)
        if read is None:
            return result
        shown, read_throttled = read
        violations, store_wrong, mismatches, measured = real_figures(
            ws, skus, shown, started_at, own_throttled + read_throttled
        )
        writes = {}
    else:
        violations, writes, store_wrong, mismatches = simulated_figures(ws, skus, before)
        measured = (
            "requests each simulated store's own limit would have refused (the simulator's "
            "counters)"
        )
    dead = OutboxEntry.objects.filter(
        channel_id__in=ws.channel_ids, listing__sku__in=skus, status=OutboxStatus.DEAD
    ).count()
    unconfirmed = (
        Listing.objects.filter(channel_id__in=ws.channel_ids, sku__in=skus)
        .exclude(state="in_sync")
        .count()
    )
    result.figures.update(
        {
            "skus": len(skus),
            "channels": len(ws.channels),
            "listings": total,
            "receipt_seconds": round(received_seconds, 2),
            "all_confirmed_seconds": round(seconds, 1) if done else None,
            "rate_limit_violations": sum(violations.values()),
            "rate_limit_measured": measured,
            "unconfirmed_listings": unconfirmed,
            "dead_lettered": dead,
            "stores_not_showing_the_receipt": len(store_wrong),
        }
    )
    if writes:
        result.figures["store_writes"] = writes
    result.series["confirmed_seconds_per_channel"] = per_channel
    result.require(
        "every listing on every channel confirmed",
        done,
        f"all {total} in {seconds:.1f} s"
        if done
        else not_confirmed(ws, skus, unconfirmed, total, waited, started_at),
    )
    result.require(
        "zero rate-limit violations",
        not any(violations.values()),
        f"{sum(violations.values())} ({ {k: v for k, v in violations.items() if v} })",
    )
    result.require(
        "nothing dropped: every store shows what the hub publishes (read through its adapter)"
        if ws.real
        else "nothing dropped: every store shows every received quantity",
        not store_wrong and not mismatches,
        "all shown"
        if not store_wrong
        else f"{len(store_wrong)} listings wrong, e.g. {mismatches[:2] or store_wrong[:2]}",
    )
    result.require("nothing dead-lettered", dead == 0, f"{dead} in the DLQ")
    result.figures["summary"] = (
        f"{total} listings confirmed in {seconds:.1f} s; "
        f"{sum(violations.values())} rate-limit violations; {len(store_wrong)} dropped"
        if done
        else f"{unconfirmed}/{total} listings not confirmed; {len(store_wrong)} wrong in stores"
    )
    return result


def not_confirmed(ws, skus, unconfirmed: int, total: int, waited: float, started_at) -> str:
    found = f"{unconfirmed} of {total} not confirmed after {waited:.0f} s"
    errors = last_errors(ws.channel_ids, started_at, 1)
    if errors:
        return f"{found} (last push error: {errors[0][:150]})"
    untouched = not OutboxEntry.objects.filter(
        channel_id__in=ws.channel_ids, listing__sku__in=skus, attempts__gt=0
    ).exists()
    if untouched:
        return (
            f"{found}: no push was even attempted. Is a propagate worker running on this "
            f"database? (the hub at {ws.web_url} may serve another one: pass --own-stack)"
        )
    return found


def simulated_figures(ws, skus, before: dict):
    """(violations and writes per store, listings a store shows wrong, hub-side
    mismatches) from the simulator's counters and control API."""
    after = ws.sim.stats()["stores"]
    slugs = [c.slug for c in ws.channels]
    violations = {
        slug: after.get(slug, {}).get("rate_limit_violations", 0)
        - before.get(slug, {}).get("rate_limit_violations", 0)
        for slug in slugs
    }
    writes = {
        slug: after.get(slug, {}).get("writes", 0) - before.get(slug, {}).get("writes", 0)
        for slug in slugs
    }
    expected = {sku.code: quantity(i) for i, sku in enumerate(skus)}
    mismatches = store_mismatches(ws, [sku.pk for sku in skus], limit=5)
    store_wrong = []
    for channel in ws.channels:
        levels = ws.sim.levels(channel.slug)
        store_wrong.extend(
            (channel.slug, code) for code, q in expected.items() if levels.get(code) != q
        )
    return violations, writes, store_wrong, mismatches


def stores_carry(ctx, result: Result, skus) -> tuple[bool, int]:
    """Before anything is written: does every chosen store carry every test SKU? A store
    that does not fails the test with what to create there (the merchant asked for the
    bulk test with --allow-writes; a skip would let the run pass without it). Returns
    (carried, throttle answers met)."""
    codes = [sku.code for sku in skus]
    throttled = 0
    for channel in ctx.ws.channels:
        row = Channel.objects.get(pk=channel.channel_id)
        reader = stores.Reader(row)
        ctx.progress.update(0, note=f"looking the test SKUs up in {channel.slug}")
        try:
            missing = reader.missing(codes)
        except Exception as exc:  # noqa: BLE001 - the store's answer, in words
            result.require(
                f"{channel.slug} answers a lookup of the test SKUs", False, f"{exc}"[:300]
            )
            return False, throttled
        throttled += reader.throttled
        result.require(
            f"the store of {channel.slug} carries every test SKU (not run otherwise)",
            not missing,
            "yes" if not missing else stores.what_to_create(row, missing, codes),
        )
        if missing:
            result.detail.setdefault("missing_in_store", {})[channel.slug] = missing
    if result.reasons:
        result.figures["summary"] = "not run: " + result.reasons[0]
        return False, throttled
    return True, throttled


def read_back(ws, skus, result: Result) -> tuple[dict[tuple[str, str], int | None], int] | None:
    """Every listing read once more through its channel's adapter, after the drainer
    confirmed it: (slug, code) -> what the store shows."""
    shown: dict[tuple[str, str], int | None] = {}
    throttled = 0
    for channel in ws.channels:
        reader = stores.Reader(Channel.objects.get(pk=channel.channel_id))
        try:
            levels = reader.levels([sku.pk for sku in skus])
        except Exception as exc:  # noqa: BLE001 - the store's answer, in words
            result.require(f"{channel.slug} answers the final read-back", False, f"{exc}"[:300])
            return None
        throttled += reader.throttled
        shown.update({(channel.slug, code): q for code, q in levels.items()})
    return shown, throttled


def real_figures(ws, skus, shown, started_at, own_throttled: int):
    """(throttle answers per channel, listings the store shows another number than the hub
    publishes, a sample of them, what was measured)."""
    sku_ids = [sku.pk for sku in skus]
    violations = {
        channel.slug: stores.throttle_answers([channel.channel_id], sku_ids, started_at)
        for channel in ws.channels
    }
    violations["certify's own reads"] = own_throttled
    store_wrong, mismatches = [], []
    for channel in ws.channels:
        for code, published in Listing.objects.filter(
            channel_id=channel.channel_id, sku_id__in=sku_ids
        ).values_list("sku__code", "published"):
            if shown.get((channel.slug, code)) != published:
                store_wrong.append((channel.slug, code))
                mismatches.append(
                    {
                        "channel": channel.slug,
                        "sku": code,
                        "hub": published,
                        "store": shown.get((channel.slug, code)),
                    }
                )
    retries = ChannelAudit.objects.filter(
        channel_id__in=ws.channel_ids,
        sku_id__in=sku_ids,
        kind=ChannelAuditKind.FAIL,
        created_at__gte=started_at,
    ).count()
    measured = (
        "answers of the channels that throttled the hub (HTTP 429 or the channel's throttle "
        "signal) during the bulk pushes, their read-backs and certify's own lookups and "
        f"reads, from the drainer's records ({retries} push retries in all); the hub spends "
        "its own token bucket per channel before every request, and a store's own "
        "counters are not readable"
    )
    return violations, store_wrong, mismatches[:5], measured
