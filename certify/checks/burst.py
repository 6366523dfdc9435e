"""Test 1, burst propagation: orders placed at a steady pace on one channel (50 in 60 s
by default: the seed's Lightning Deal); per order, the time from the hub storing its
webhook until every other channel confirmed the new quantity (pushed and read back)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import Result
from .common import TARGET_P95_MS, fmt_ms, sale_latencies, store_mismatches, wait_confirmed

NAME = "burst"
TITLE = "Burst propagation"


def run(ctx) -> Result:
    opts, ws = ctx.opts, ctx.ws
    n, seconds = opts.burst_orders, opts.burst_seconds
    result = Result(
        NAME,
        TITLE,
        f"{n} orders in {seconds:g} s on one channel; from the order's webhook to every "
        "other channel confirmed",
    )
    if ctx.skip_reason(NAME):
        return result.skip(ctx.skip_reason(NAME))
    seller = ws.sellers[0]
    others = [c for c in ws.channels if c is not seller]
    codes = [sku.code for sku in ws.skus["burst"]]
    rng = random.Random(opts.seed)
    picks = [rng.choice(codes) for _ in range(n)]
    order_ids: list[str] = []
    errors: list[str] = []
    refused: list[int] = []
    lock = threading.Lock()
    sent = 0
    started = time.monotonic()

    def place(index: int) -> None:
        nonlocal sent
        delay = started + index * seconds / n - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            answer = ws.sim.place_order(seller.slug, [{"sku": picks[index], "quantity": 1}])
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(str(exc)[:200])
            return
        with lock:
            sent += 1
            order_ids.extend(order["order_id"] for order in answer["orders"])
            refused.extend(d["status"] for d in answer["deliveries"] if d.get("status") != 200)

    ctx.progress.begin(NAME, n, f"orders on {seller.slug}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(place, i) for i in range(n)]
        while not all(f.done() for f in futures):
            ctx.progress.update(sent, note=f"orders on {seller.slug}")
            time.sleep(0.2)
    send_seconds = time.monotonic() - started
    ctx.progress.update(sent, note="waiting for every channel to confirm")
    settled, waited = wait_confirmed(
        ws.channel_ids,
        ws.sku_ids("burst"),
        timeout=opts.settle_seconds,
        progress=lambda done, total: ctx.progress.update(
            sent, note=f"confirmed {done}/{total} listings"
        ),
    )
    latencies = sale_latencies(seller, order_ids, others)
    stats = latencies["summary"]
    result.figures = {
        "orders": n,
        "orders_sent": sent,
        "send_seconds": round(send_seconds, 1),
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "p99_ms": stats["p99"],
        "max_ms": stats["max"],
        "never_confirmed": stats["never"],
        "seller": seller.slug,
        "channels": [o.slug for o in others],
    }
    result.series["latencies_ms"] = [
        None if v == float("inf") else round(v, 1) for v in latencies["total_ms"]
    ]
    result.detail = {"per_channel": latencies["per_channel"], "errors": errors[:5]}
    result.require("every order placed", sent == n and not errors, f"{sent}/{n} ({errors[:1]})")
    result.require(
        "every webhook accepted (200)", not refused, f"{len(refused)} answered {set(refused)}"
    )
    never = {slug: s["never"] for slug, s in latencies["per_channel"].items() if s["never"]}
    result.require(
        "every order confirmed on every other channel",
        stats["never"] == 0,
        "all confirmed"
        if not stats["never"]
        else f"{stats['never']} orders never confirmed ({latencies['missing_in_hub']} never "
        f"reached the ledger; unconfirmed per channel: {never})",
    )
    slowest = max(
        latencies["per_channel"].items(),
        key=lambda item: item[1]["p95"] if item[1]["p95"] is not None else float("inf"),
        default=("", {}),
    )[0]
    p95 = stats["p95"]
    result.require(
        "p95 < 5 s",
        p95 is not None and p95 < TARGET_P95_MS,
        f"p95 {fmt_ms(p95)} (slowest channel {slowest})",
    )
    if settled:
        mismatches = store_mismatches(ws, ws.sku_ids("burst"))
        result.require(
            "every store shows what the hub publishes", not mismatches, str(mismatches[:3])
        )
    else:
        result.require("settled", False, f"not every listing confirmed after {waited:.0f} s")
    result.figures["summary"] = (
        f"p50 {fmt_ms(stats['p50'])}, p95 {fmt_ms(p95)}, p99 {fmt_ms(stats['p99'])}; "
        f"{n - stats['never']}/{n} confirmed on {len(others)} channels"
    )
    return result
