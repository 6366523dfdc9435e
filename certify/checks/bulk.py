"""Test 4, bulk: 500+ SKUs received at once (one receipt: one operation, one outbox
refresh), listed on every channel. Every listing must be confirmed at the received
quantity, every store must show it, with zero rate-limit violations (the simulator
counts each request a store's limit would have refused) and nothing dropped."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from channels.models import Listing, OutboxEntry, OutboxStatus
from ledger.services import stock_receive_lines

from ..workspace import list_on_certify_channels
from . import Result
from .common import last_errors, listing_counts, store_mismatches, wait_confirmed

NAME = "bulk"
TITLE = "Bulk receipt"


def quantity(index: int) -> int:
    return 1 + (index * 37) % 97


def run(ctx) -> Result:
    opts, ws = ctx.opts, ctx.ws
    skus = ws.skus["bulk"]
    result = Result(
        NAME,
        TITLE,
        f"{len(skus)} SKUs received at once on {len(ws.channels)} channels; every listing "
        "confirmed, rate-limit violations, nothing dropped",
    )
    if ctx.skip_reason(NAME):
        return result.skip(ctx.skip_reason(NAME))
    total = len(skus) * len(ws.channels)
    ctx.progress.begin(NAME, total, "receiving")
    before = ws.sim.stats()["stores"]
    since = time.monotonic()
    started_at = timezone.now()
    with transaction.atomic():
        list_on_certify_channels(ws, skus)
        stock_receive_lines(
            lines=[(sku, quantity(i)) for i, sku in enumerate(skus)],
            location=ws.location,
            origin=ws.origin(f"bulk receipt of {len(skus)} SKUs"),
        )
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
    mismatches = store_mismatches(ws, ws.sku_ids("bulk"), limit=5)
    store_wrong = []
    for channel in ws.channels:
        levels = ws.sim.levels(channel.slug)
        store_wrong.extend(
            (channel.slug, code) for code, q in expected.items() if levels.get(code) != q
        )
    dead = OutboxEntry.objects.filter(
        channel_id__in=ws.channel_ids, listing__sku__in=skus, status=OutboxStatus.DEAD
    ).count()
    unconfirmed = (
        Listing.objects.filter(channel_id__in=ws.channel_ids, sku__in=skus)
        .exclude(state="in_sync")
        .count()
    )
    result.figures = {
        "skus": len(skus),
        "channels": len(ws.channels),
        "listings": total,
        "receipt_seconds": round(received_seconds, 2),
        "all_confirmed_seconds": round(seconds, 1) if done else None,
        "rate_limit_violations": sum(violations.values()),
        "store_writes": writes,
        "unconfirmed_listings": unconfirmed,
        "dead_lettered": dead,
        "stores_not_showing_the_receipt": len(store_wrong),
    }
    result.series["confirmed_seconds_per_channel"] = per_channel
    result.require(
        "every listing on every channel confirmed",
        done,
        f"all {total} in {seconds:.1f} s"
        if done
        else f"{unconfirmed} of {total} not confirmed after {waited:.0f} s"
        + (f" (last push error: {last_errors(ws.channel_ids, started_at, 1)[0][:150]})"
           if last_errors(ws.channel_ids, started_at, 1) else ""),
    )  # fmt: skip
    result.require(
        "zero rate-limit violations",
        not any(violations.values()),
        f"{sum(violations.values())} ({ {k: v for k, v in violations.items() if v} })",
    )
    result.require(
        "nothing dropped: every store shows every received quantity",
        not store_wrong and not mismatches,
        "all shown"
        if not store_wrong
        else f"{len(store_wrong)} listings wrong, e.g. {mismatches[:2]}",
    )
    result.require("nothing dead-lettered", dead == 0, f"{dead} in the DLQ")
    result.figures["summary"] = (
        f"{total} listings confirmed in {seconds:.1f} s; "
        f"{sum(violations.values())} rate-limit violations; {len(store_wrong)} dropped"
        if done
        else f"{unconfirmed}/{total} listings not confirmed; {len(store_wrong)} wrong in stores"
    )
    return result
