"""Test 2, concurrent sales: the last units of a SKU sold at the same moment on two or
more channels. Each selling channel's store sells one unit and sends its webhook, all
released by one barrier. Afterwards the ledger must hold exactly what was sold, every
unit sold beyond the stock must be recorded by an oversell incident, and every channel
must show what is left (never a negative or stale number)."""

from __future__ import annotations

import threading
import time

from django.db.models import Sum

from ledger.models import OversellIncident, StockLevel
from ledger.selectors import ledger_mismatches

from . import Result
from .common import store_mismatches, wait_confirmed

NAME = "concurrent"
TITLE = "Concurrent sales of one SKU"


def race_stock(index: int, sellers: int, skus: int) -> int:
    """The last SKU has exactly one unit per seller (sold out, no oversell); the others
    one unit fewer (one oversold unit each)."""
    return sellers if index == skus - 1 else sellers - 1


def run(ctx) -> Result:
    ws = ctx.ws
    result = Result(
        NAME,
        TITLE,
        "the last units of a SKU sold at the same moment on every selling channel; counts "
        "against the truth, oversells and their incidents",
    )
    if ctx.skip_reason(NAME):
        return result.skip(ctx.skip_reason(NAME))
    sellers = ws.sellers
    skus = ws.skus["race"]
    if len(sellers) < 2:
        return result.skip("needs two selling channels (sandbox, standard, shopify, woocommerce)")
    ctx.progress.begin(NAME, len(skus) * len(sellers), "waiting for the stores to show the stock")
    ready, _ = wait_confirmed(ws.channel_ids, ws.sku_ids("race"), timeout=ctx.opts.settle_seconds)
    if not ready:
        result.require("stores in sync before the sales", False, "the stock never reached them")
    barrier = threading.Barrier(len(skus) * len(sellers))
    fired: list[float] = []
    outcomes: list[dict] = []
    lock = threading.Lock()

    def sell(store: str, code: str) -> None:
        barrier.wait(timeout=30)
        at = time.monotonic()
        try:
            # Every store still shows the unit it sells (allow_oversell): the hub's
            # newer number has not reached it, as in a real race.
            answer = ws.sim.place_order(store, [{"sku": code, "quantity": 1}], allow_oversell=True)
            statuses = [d.get("status") for d in answer["deliveries"]]
            outcome = {"store": store, "sku": code, "order_id": answer["orders"][0]["order_id"],
                       "webhook_statuses": statuses}  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported
            outcome = {"store": store, "sku": code, "error": str(exc)[:200]}
        with lock:
            fired.append(at)
            outcomes.append(outcome)

    threads = [
        threading.Thread(target=sell, args=(seller.slug, sku.code))
        for sku in skus
        for seller in sellers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spread_ms = (max(fired) - min(fired)) * 1000 if fired else 0.0
    ctx.progress.update(len(outcomes), note="waiting for the hub and every channel")
    settled, waited = wait_confirmed(
        ws.channel_ids, ws.sku_ids("race"), timeout=ctx.opts.settle_seconds
    )
    sold = {sku.code: 0 for sku in skus}
    for outcome in outcomes:
        if "order_id" in outcome:
            sold[outcome["sku"]] += 1
    rows = []
    expected_oversold = 0
    for index, sku in enumerate(skus):
        stock = race_stock(index, len(sellers), len(skus))
        level = StockLevel.objects.filter(sku=sku, location=ws.location).first()
        incidents = list(
            OversellIncident.objects.filter(sku=sku, opened_at__gte=ws.started_at).values(
                "pk", "shortfall", "status", "orders"
            )
        )
        oversold = max(0, sold[sku.code] - stock)
        expected_oversold += oversold
        rows.append(
            {
                "sku": sku.code,
                "stock": stock,
                "sold": sold[sku.code],
                "on_hand": level.on_hand if level else None,
                "committed": level.committed if level else None,
                "available": (level.on_hand - level.committed) if level else None,
                "oversold": oversold,
                "incidents": [
                    {"id": i["pk"], "shortfall": i["shortfall"], "orders": len(i["orders"])}
                    for i in incidents
                ],
            }
        )
    errors = [o for o in outcomes if "error" in o]
    refused = [o for o in outcomes if any(s != 200 for s in o.get("webhook_statuses", []))]
    result.require("every sale placed", not errors, f"{len(errors)} refused: {errors[:1]}")
    result.require("every webhook accepted", not refused, f"{len(refused)}: {refused[:1]}")
    wrong_counts = [r for r in rows if r["on_hand"] != r["stock"] or r["committed"] != r["sold"]]
    result.require(
        "the ledger holds exactly what was sold (on hand = stock, committed = units sold)",
        not wrong_counts,
        "all match" if not wrong_counts else f"{wrong_counts[:2]}",
    )
    recorded = sum(i["shortfall"] for r in rows for i in r["incidents"])
    missing = [r["sku"] for r in rows if r["oversold"] and not r["incidents"]]
    result.require(
        "every oversold unit recorded by an oversell incident",
        recorded == expected_oversold and not missing,
        f"{expected_oversold} oversold, {recorded} in incidents"
        + (f"; none for {missing}" if missing else ""),
    )
    mismatched = ledger_mismatches()
    ours = [m for m in mismatched if str(m.get("sku", "")).upper().startswith("CERTIFY-")]
    result.require("ledger invariant (levels = sum of movements)", not ours, str(ours[:2]))
    if settled:
        mismatches = store_mismatches(ws, ws.sku_ids("race"), sold_out_below_zero=True)
        result.require("every channel shows what is left", not mismatches, str(mismatches[:3]))
    else:
        result.require("settled", False, f"not every listing confirmed after {waited:.0f} s")
    units = sum(sold.values())
    total_stock = sum(r["stock"] for r in rows)
    result.figures = {
        "skus": len(skus),
        "selling_channels": [s.slug for s in sellers],
        "sales": len(outcomes),
        "units_sold": units,
        "stock": total_stock,
        "oversold_units": expected_oversold,
        "incidents": sum(len(r["incidents"]) for r in rows),
        "fire_spread_ms": round(spread_ms, 1),
        "committed_total": StockLevel.objects.filter(sku__in=skus, location=ws.location).aggregate(
            c=Sum("committed")
        )["c"],
        "summary": f"{units} units sold of {total_stock} on {len(sellers)} channels within "
        f"{spread_ms:.0f} ms; {expected_oversold} oversold, {recorded} recorded in incidents",
    }
    result.detail = {"skus": rows}
    ctx.progress.update(len(outcomes))
    ctx.state["race_sku"] = skus[0].code
    return result
