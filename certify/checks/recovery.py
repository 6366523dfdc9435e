"""Test 3, failure recovery: one channel fails while sales go on elsewhere: first every
call answers 500, then the channel is down (503 outage). The hub must retry, park what
keeps failing in the dead-letter queue, open the channel's circuit, keep the other
channels in sync, and once the fault is lifted and a person retries the DLQ, converge:
every listing confirmed, every store showing what the hub publishes, the circuit closed.

The run's channels retry after 1, 2 and 3 s (`workspace.RETRY_SCHEDULE`), so the DLQ is
reached in seconds; the merchant's channels keep their own schedule."""

from __future__ import annotations

import threading
import time

from django.utils import timezone

from channels.models import ChannelAudit, ChannelAuditKind, OutboxEntry, OutboxStatus
from channels.propagation import breaker
from channels.propagation.dlq import dlq_retry
from channels.propagation.drain import THROTTLE_FLOOR

from ..workspace import RETRY_SCHEDULE
from . import Result
from .common import (
    TARGET_P95_MS,
    fmt_ms,
    last_errors,
    sale_latencies,
    store_mismatches,
    wait_confirmed,
)

NAME = "recovery"


def dlq_window() -> float:
    """Seconds of fault before a push that fails whole calls reaches the DLQ: it is
    retried no sooner than THROTTLE_FLOOR, and dies after len(RETRY_SCHEDULE) attempts."""
    return THROTTLE_FLOOR * (len(RETRY_SCHEDULE) - 1) + 5


FAIL_RESTOCK = 1_100
TITLE = "Failure recovery"


def failing_channel(ws):
    """A channel that only receives (its store sells nothing in this test): WooCommerce
    when there is one."""
    seller = ws.sellers[0]
    candidates = [c for c in ws.channels if c is not seller]
    return next((c for c in candidates if c.kind == "woocommerce"), candidates[0])


def run(ctx) -> Result:
    opts, ws = ctx.opts, ctx.ws
    phase = opts.recovery_seconds
    result = Result(
        NAME,
        TITLE,
        f"one channel answering 500 for {phase:g} s, then down for {phase:g} s, while "
        "sales go on; retries, DLQ, circuit, convergence after the fault is lifted",
    )
    if ctx.skip_reason(NAME):
        return result.skip(ctx.skip_reason(NAME))
    seller = ws.sellers[0]
    failing = failing_channel(ws)
    healthy = [c for c in ws.channels if c not in (seller, failing)]
    skus = ws.skus["fail"]
    # Sales go round the SKUs, one after another: each is a push of its own (a pending
    # push of a SKU keeps its backoff when a newer sale replaces its quantity).
    codes = [sku.code for sku in skus]
    orders = opts.recovery_orders
    total_steps = orders + 2
    ctx.progress.begin(NAME, total_steps, f"{failing.slug} answers 500")
    fault_started = timezone.now()
    samples: list[tuple[float, str]] = []
    order_ids: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def watch() -> None:
        while not stop.is_set():
            samples.append((round(time.monotonic() - t0, 1), breaker.state(failing.slug).state))
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    phases = [
        ("500", {"error_rate": 1.0, "status": 500}),
        ("outage", {"outage": True}),
    ]
    per_phase = [orders // 2, orders - orders // 2]
    sent = 0
    for (label, fault), count in zip(phases, per_phase, strict=True):
        ws.sim.set_faults(failing.slug, **fault)
        if label == "500":
            ws.stock(skus, FAIL_RESTOCK, "recovery: a delivery arrives while a channel fails")
        ctx.progress.update(sent, note=f"{failing.slug}: {label}")
        started = time.monotonic()
        for index in range(count):
            delay = started + index * phase / max(count, 1) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                code = codes[(sent) % len(codes)]
                answer = ws.sim.place_order(seller.slug, [{"sku": code, "quantity": 1}])
                order_ids.extend(o["order_id"] for o in answer["orders"])
            except Exception as exc:  # noqa: BLE001 - reported
                errors.append(str(exc)[:200])
            sent += 1
            ctx.progress.update(sent)
        remaining = started + phase - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
    # What the fault did, before anything is lifted.
    audits = ChannelAudit.objects.filter(
        channel_id=failing.channel_id, created_at__gte=fault_started
    )
    failed_pushes = audits.filter(kind=ChannelAuditKind.FAIL).count()
    dead = list(OutboxEntry.objects.filter(channel_id=failing.channel_id, status=OutboxStatus.DEAD))
    dead_audits = audits.filter(kind=ChannelAuditKind.DEAD).count()
    state_during = breaker.state(failing.slug)
    opened = any(state != "closed" for _, state in samples)
    errors_seen = last_errors([failing.channel_id], fault_started)
    # The healthy channels kept up while one was failing.
    isolation = sale_latencies(seller, order_ids, healthy) if healthy else None
    # Lift the fault; a person retries the DLQ.
    ws.sim.clear_faults(failing.slug)
    lifted = time.monotonic()
    retried = dlq_retry(entries=dead)
    ctx.progress.update(sent + 1, note=f"fault lifted, {retried} retried from the DLQ")
    converged, waited = wait_confirmed(
        ws.channel_ids,
        ws.sku_ids("fail"),
        timeout=opts.recovery_timeout,
        progress=lambda done, total: ctx.progress.update(
            sent + 1, note=f"converging: {done}/{total} listings confirmed"
        ),
    )
    converge_seconds = time.monotonic() - lifted
    stop.set()
    watcher.join()
    state_after = breaker.state(failing.slug)
    ctx.progress.update(total_steps)
    result.figures = {
        "failing_channel": failing.slug,
        "orders_during_fault": sent,
        "failed_pushes": failed_pushes,
        "dead_lettered": dead_audits,
        "dlq_entries_retried": retried,
        "circuit_opened": opened,
        "circuit_during_fault": state_during.state,
        "circuit_after": state_after.state,
        "converged_seconds_after_lift": round(converge_seconds, 1),
        "healthy_channels_p95_ms": isolation["summary"]["p95"] if isolation else None,
    }
    result.series["circuit"] = samples
    result.detail = {"errors": errors_seen, "order_errors": errors[:3]}
    result.require("sales went on", not errors, f"{len(errors)} refused: {errors[:1]}")
    result.require(
        "the hub retried the failing channel",
        failed_pushes > 0,
        f"{failed_pushes} failed pushes recorded, each retried with backoff"
        + (f" (last: {errors_seen[0][:120]})" if errors_seen else ""),
    )
    window = dlq_window()
    if 2 * phase >= window:
        result.require(
            "what kept failing went to the dead-letter queue",
            len(dead) > 0,
            f"{len(dead)} entries in the DLQ",
        )
    else:
        result.reasons.append(
            f"note: the fault ({2 * phase:g} s) is shorter than the {window:g} s a push needs "
            f"to fail {len(RETRY_SCHEDULE)} times (a channel failing whole calls is retried "
            f"after {THROTTLE_FLOOR:g} s at the earliest), so no DLQ entry was expected; "
            f"{len(dead)} found"
        )
    result.figures["circuit_seen"] = sorted({s for _, s in samples})
    result.figures["circuit_window"] = (
        f"{state_during.calls} calls, {state_during.failures} failed in the last 5 minutes "
        "(it opens at 10 calls with 70% failing)"
    )
    if isolation is not None:
        p95 = isolation["summary"]["p95"]
        result.require(
            "the other channels kept up (p95 < 5 s during the fault)",
            p95 is not None and p95 < TARGET_P95_MS,
            f"p95 {fmt_ms(p95)} on {', '.join(c.slug for c in healthy)}",
        )
    result.require(
        "full convergence after the fault was lifted and the DLQ retried",
        converged,
        f"converged in {converge_seconds:.1f} s"
        if converged
        else f"not converged after {waited:.0f} s",
    )
    if converged:
        mismatches = store_mismatches(ws, ws.sku_ids("fail"))
        result.require(
            "every store shows what the hub publishes", not mismatches, str(mismatches[:3])
        )
    result.require(
        "the circuit closed again", state_after.state == "closed", f"{state_after.state}"
    )
    result.figures["summary"] = (
        f"{failed_pushes} failed pushes, {len(dead)} to the DLQ, circuit "
        f"{'opened' if opened else 'stayed closed'}; converged "
        f"{f'{converge_seconds:.1f} s after the fault was lifted' if converged else 'never'}"
    )
    # The audit test follows a SKU sold during the fault and retried from the DLQ.
    retried_skus = list(
        ChannelAudit.objects.filter(
            channel_id=failing.channel_id,
            kind=ChannelAuditKind.RETRY,
            created_at__gte=fault_started,
        ).values_list("sku__code", flat=True)[:1]
    )
    if retried_skus:
        ctx.state["audit_sku"] = retried_skus[0]
    return result
