"""One certify run: find or start the stack, set the workspace up, run the chosen tests
in order, build the report, clean up."""

from __future__ import annotations

import argparse
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from bench.harness.report import git_state, machine, quiet_http_clients
from simulator.client import SimulatorClient

from . import checks, stack, workspace
from .checks import FAIL, PASS, SKIP, Result, common
from .checks.concurrent import race_stock
from .progress import Progress
from .workspace import Workspace

BURST_SKUS = 10
BURST_STOCK = 10_000
FAIL_SKUS = 20
FAIL_STOCK = 1_000


@dataclass
class Context:
    opts: argparse.Namespace
    progress: Progress
    ws: Workspace | None = None
    # --channels: the merchant's own stores (certify places no order, injects no fault).
    real: bool = False
    # ... without --allow-writes: nothing is written to them.
    read_only: bool = False
    skipped: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def skip_reason(self, name: str) -> str:
        return self.skipped.get(name, "")


def run(opts: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """The report (a dict); raises stack.StackError when certify cannot run here."""
    started = timezone.now()
    t0 = time.monotonic()
    selected = [name for name in checks.NAMES if name in opts.tests]
    real = bool(opts.channels)
    ctx = Context(
        opts=opts,
        progress=progress,
        real=real,
        read_only=real and not (opts.allow_writes and "bulk" in selected),
    )
    progress.plan(selected)
    notes: list[str] = []
    results: list[Result] = []
    the_stack = None
    cleanup_done: dict[str, Any] = {}
    try:
        if ctx.real:
            notes.extend(real_channels(ctx))
            for note in notes:
                progress.note(note)
            if not ctx.read_only:
                quiet_http_clients()
                cleanup_done["before"] = workspace.cleanup(log=progress.note)
                the_stack = stack.start(
                    web_url=opts.web_url, own_stack=opts.own_stack, need_simulator=False
                )
                notes.extend(the_stack.notes)
                for note in the_stack.notes:
                    progress.note(note)
                setup_real(ctx, the_stack)
        else:
            workspace.allow_loopback()
            quiet_http_clients()
            cleanup_done["before"] = workspace.cleanup(log=progress.note)
            the_stack = stack.start(
                web_url=opts.web_url,
                simulator_url=opts.simulator_url,
                own_stack=opts.own_stack,
            )
            notes.extend(the_stack.notes)
            for note in the_stack.notes:
                progress.note(note)
            setup(ctx, the_stack, selected)
            check_web(ctx.ws)
        for module in sorted(checks.ALL, key=lambda m: checks.RUN_ORDER.index(m.NAME)):
            if module.NAME not in selected:
                continue
            began = time.monotonic()
            try:
                result = module.run(ctx)
            except Exception as exc:  # noqa: BLE001 - one test's crash fails that test
                result = Result(module.NAME, module.TITLE, "", status=FAIL)
                result.reasons.append(f"the test crashed: {exc!r}")
            result.seconds = round(time.monotonic() - began, 1)
            if progress.current != module.NAME:
                progress.begin(module.NAME, 0)
            progress.end(result.status, short(result))
            results.append(result)
    finally:
        if ctx.ws is not None and ctx.ws.real and ctx.state.get("bulk_sku") and not opts.keep:
            cleanup_done["stores"] = zero_real_stores(ctx)
        if ctx.ws is not None and not opts.keep:
            cleanup_done["after"] = workspace.cleanup(
                sim=ctx.ws.sim, run_id=ctx.ws.run_id, log=progress.note
            )
        if ctx.ws is not None and ctx.ws.real and ctx.state.get("bulk_sku"):
            notes.append(left_in_stores(ctx, cleanup_done.get("stores")))
            progress.note(notes[-1])
        if the_stack is not None:
            passed = len(results) == len(selected) and all(r.status != FAIL for r in results)
            the_stack.close(keep_logs=not passed)
    results.sort(key=lambda r: checks.NAMES.index(r.name))
    failed = [r.name for r in results if r.status == FAIL]
    certified = any(r.status == PASS for r in results)  # a run of skips certifies nothing
    return {
        "certify": 1,
        "status": PASS if certified and not failed else FAIL,
        "failed": failed,
        "skipped": {r.name: r.reasons[0] for r in results if r.status == SKIP},
        "started_at": started.isoformat(),
        "seconds": round(time.monotonic() - t0, 1),
        "run_id": ctx.ws.run_id if ctx.ws else "",
        "options": {k: v for k, v in vars(opts).items() if is_plain(v)},
        "channels": [{"slug": c.slug, "kind": c.kind} for c in ctx.ws.channels]
        if ctx.ws
        else [{"slug": slug, "kind": kind} for slug, kind in ctx.state.get("channels", [])],
        "notes": notes,
        "cleanup": cleanup_done if not opts.keep else "kept (--keep)",
        "machine": machine(),
        "git": git_state(),
        "tests": [r.as_dict() for r in results],
    }


def is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | type(None))


def short(result: Result) -> str:
    if result.status == SKIP:
        return result.reasons[0]
    if result.status == FAIL:
        return "; ".join(result.reasons)[:400]
    return str(result.figures.get("summary", ""))


def setup(ctx: Context, the_stack: stack.Stack, selected: list[str]) -> Workspace:
    opts = ctx.opts
    kinds = opts.kinds
    sim = SimulatorClient(the_stack.simulator_url, timeout=60)
    ws = Workspace(
        run_id=secrets.token_hex(3),
        sim=sim,
        web_url=the_stack.web_url,
        location=workspace.certify_location(),
    )
    ctx.ws = ws  # cleaned up whatever happens next
    sellers = [k for k in kinds if k in workspace.SELLING_KINDS]
    if not sellers:
        raise stack.StackError(
            f"--kinds needs at least one selling kind ({', '.join(workspace.SELLING_KINDS)})"
        )
    if len(kinds) < 2:
        raise stack.StackError("--kinds needs at least two channels")
    ctx.progress.note(f"setting up run {ws.run_id}: {len(kinds)} channels ({', '.join(kinds)})")
    ws.skus["burst"] = workspace.ensure_skus("burst", BURST_SKUS, list_on_channels=True)
    ws.skus["race"] = workspace.ensure_skus("race", opts.race_skus, list_on_channels=True)
    ws.skus["fail"] = workspace.ensure_skus("fail", FAIL_SKUS, list_on_channels=True)
    ws.skus["bulk"] = (
        workspace.ensure_skus("bulk", opts.bulk_skus, list_on_channels=False)
        if "bulk" in selected
        else []
    )
    race_sellers = len(sellers)
    ws.stock(ws.skus["burst"], BURST_STOCK, "burst stock")
    ws.stock(ws.skus["fail"], FAIL_STOCK, "recovery stock")
    levels = {sku.code: BURST_STOCK for sku in ws.skus["burst"]}
    levels.update({sku.code: FAIL_STOCK for sku in ws.skus["fail"]})
    for index, sku in enumerate(ws.skus["race"]):
        quantity = race_stock(index, race_sellers, len(ws.skus["race"]))
        ws.stock([sku], quantity, "concurrent sales stock")
        levels[sku.code] = quantity
    levels.update({sku.code: 0 for sku in ws.skus["bulk"]})
    listed = [*ws.skus["burst"], *ws.skus["race"], *ws.skus["fail"]]
    workspace.create_channels(ws, kinds, levels, listed)
    # Sellers first, in the order of --kinds: the burst sells on the first one.
    ws.channels.sort(key=lambda c: (not c.sells, kinds.index(c.kind)))
    # Each store lists what it was created with; the hub's first pushes only confirm it.
    # Waited for so that no test starts behind a backlog (not a failure by itself).
    synced, waited = common.wait_confirmed(
        ws.channel_ids, [sku.pk for sku in listed], timeout=opts.settle_seconds
    )
    if not synced:
        refused = [
            error
            for error in common.last_errors(ws.channel_ids, ws.started_at, 20)
            if "CHANNEL_ALLOW_PRIVATE_NETWORKS" in error
        ]
        if refused:
            raise stack.StackError(
                f"the hub at {ws.web_url} refuses loopback addresses, where the simulator "
                f"runs ({refused[0][:160]}): start its workers with "
                "CHANNEL_ALLOW_PRIVATE_NETWORKS=1 (make run does), or pass --own-stack"
            )
    ctx.progress.note(
        f"channels in sync in {waited:.1f} s"
        if synced
        else f"channels not in sync after {waited:.0f} s: the tests start anyway"
    )
    return ws


def check_web(ws: Workspace) -> None:
    """The web process must be this hub (it knows the run's channels) and accept the
    simulator's webhooks."""
    import httpx

    slug = ws.channels[0].slug
    try:
        answer = httpx.post(f"{ws.web_url}/webhooks/{slug}/", content=b"{}", timeout=10)
    except httpx.HTTPError as exc:
        raise stack.StackError(f"the hub at {ws.web_url} does not answer: {exc}") from None
    if answer.status_code == 404:
        raise stack.StackError(
            f"the hub at {ws.web_url} does not know channel {slug}: it serves another "
            "database. Point --web-url at this hub, or pass --own-stack."
        )


def real_channels(ctx: Context) -> list[str]:
    """--channels: the merchant's own (sandbox) stores. Certify cannot place orders or
    inject faults there, so burst, concurrent and recovery never run; bulk runs only with
    --allow-writes. Raises StackError for a slug that is no channel here, or a disabled
    one (nothing would be pushed to it)."""
    from channels.models import Channel

    slugs = ctx.opts.channels
    found = {c.slug: c for c in Channel.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        known = ", ".join(Channel.objects.values_list("slug", flat=True)[:20]) or "none"
        raise stack.StackError(
            f"no such channel: {', '.join(unknown)} (this hub's channels: {known})"
        )
    disabled = [s for s in slugs if not found[s].enabled]
    if disabled and ctx.opts.allow_writes:
        raise stack.StackError(
            f"channel {', '.join(disabled)} is disabled: nothing would be pushed to it. "
            "Enable it, or leave it out of --channels"
        )
    ctx.state["channels"] = [(s, found[s].kind) for s in slugs]
    stores = ", ".join(slugs)
    only_simulated = {
        "burst": "it places a burst of orders on the store",
        "concurrent": "it sells the last units of a SKU on several stores at the same moment",
        "recovery": "it makes the store answer 500 and then go down while orders are placed",
    }
    for name, what in only_simulated.items():
        ctx.skipped[name] = (
            f"skipped against real stores: {what}, and certify can place orders and inject "
            "faults only on its own simulator (run certify without --channels for this test)"
        )
    if not ctx.opts.allow_writes:
        ctx.skipped["bulk"] = (
            f"skipped: it writes stock for {ctx.opts.bulk_skus} test SKUs "
            f"({workspace.sku_code('bulk', 1)} to "
            f"{workspace.sku_code('bulk', ctx.opts.bulk_skus)}) to {stores}, and this run "
            "may write nothing. Create those SKUs in the stores, then run again with "
            "--allow-writes"
        )
        return [f"read-only run against {stores}: nothing is written to these channels"]
    return [
        f"run against the stores of {stores} (--allow-writes): certify lists its "
        f"{ctx.opts.bulk_skus} CERTIFY-BULK-* SKUs on these channels and pushes their "
        "test stock to the stores"
    ]


def setup_real(ctx: Context, the_stack: stack.Stack) -> Workspace:
    """The merchant's channels as the run's channels; the bulk SKUs (not listed yet: the
    bulk test lists them once the stores are known to carry them)."""
    channels, locations = workspace.merchant_channels(ctx.opts.channels)
    ws = Workspace(
        run_id=secrets.token_hex(3),
        sim=None,
        web_url=the_stack.web_url,
        location=workspace.certify_location(),
        channels=channels,
        stock_locations=locations,
    )
    ctx.ws = ws
    ws.skus["bulk"] = workspace.ensure_skus("bulk", ctx.opts.bulk_skus, list_on_channels=False)
    return ws


def zero_real_stores(ctx: Context) -> dict[str, Any]:
    """Before the listings go: count the test stock to 0 and wait for the stores to show
    it, so that what stays in them (the products the merchant created) sells nothing."""
    ws = ctx.ws
    skus = ws.skus["bulk"]
    ctx.progress.note(f"cleanup: pushing 0 for the {len(skus)} test SKUs to the stores")
    zeroed = workspace.zero_stock(ws, skus, "clean-up: the stores' test SKUs back to 0")
    done, waited = common.wait_confirmed(
        ws.channel_ids, [sku.pk for sku in skus], timeout=min(ctx.opts.bulk_timeout, 120.0)
    )
    common.wait_not_in_flight(ws.channel_ids, [sku.pk for sku in skus], timeout=30.0)
    return {"levels_zeroed": zeroed, "stores_show_zero": done, "seconds": round(waited, 1)}


def left_in_stores(ctx: Context, zeroed: dict[str, Any] | None) -> str:
    skus = ctx.ws.skus["bulk"]
    where = ", ".join(c.slug for c in ctx.ws.channels)
    products = (
        f"the {len(skus)} products {skus[0].code} to {skus[-1].code} in the stores of {where}"
    )
    if zeroed is None:
        state = "at the test quantities (--keep: the listings and test stock stay in the hub)"
    elif zeroed["stores_show_zero"]:
        state = "at 0 available (certify pushed 0 before removing its listings)"
    else:
        state = (
            "possibly still at test quantities (the push of 0 was not confirmed in "
            f"{zeroed['seconds']:.0f} s): set them to 0 or delete them in the store"
        )
    return (
        f"left in the stores: {products}, {state}. Certify cannot delete products from a "
        "store: remove them there when no longer needed (a later run reuses them)"
    )
