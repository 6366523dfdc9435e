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
    ctx = Context(opts=opts, progress=progress, read_only=bool(opts.channels))
    progress.plan(selected)
    notes: list[str] = []
    results: list[Result] = []
    the_stack = None
    cleanup_done: dict[str, Any] = {}
    try:
        if ctx.read_only:
            notes.extend(real_channels(ctx))
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
        if ctx.ws is not None and not opts.keep:
            cleanup_done["after"] = workspace.cleanup(
                sim=ctx.ws.sim, run_id=ctx.ws.run_id, log=progress.note
            )
        if the_stack is not None:
            passed = len(results) == len(selected) and all(r.status != FAIL for r in results)
            the_stack.close(keep_logs=not passed)
    results.sort(key=lambda r: checks.NAMES.index(r.name))
    failed = [r.name for r in results if r.status == FAIL]
    return {
        "certify": 1,
        "status": FAIL if failed else PASS,
        "failed": failed,
        "skipped": {r.name: r.reasons[0] for r in results if r.status == SKIP},
        "started_at": started.isoformat(),
        "seconds": round(time.monotonic() - t0, 1),
        "run_id": ctx.ws.run_id if ctx.ws else "",
        "options": {k: v for k, v in vars(opts).items() if is_plain(v)},
        "channels": [{"slug": c.slug, "kind": c.kind} for c in ctx.ws.channels] if ctx.ws else [],
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
    inject faults there, so only the read-only tests run."""
    from channels.models import Channel

    slugs = ctx.opts.channels
    known = set(Channel.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise stack.StackError(f"no such channel: {', '.join(unknown)}")
    why = (
        "needs orders placed and faults injected on the store: certify can do that only "
        "on the simulator (run without --channels)"
    )
    for name in ("burst", "concurrent", "recovery"):
        ctx.skipped[name] = why
    ctx.skipped["bulk"] = (
        why
        if ctx.opts.allow_writes
        else "writes 500+ test SKUs' stock to the channels: pass --allow-writes to allow it "
        "(and list the CERTIFY-BULK-* SKUs in the store first)"
    )
    if ctx.opts.allow_writes:
        ctx.skipped["bulk"] = (
            "not yet against real stores: the store must list the CERTIFY-BULK-* SKUs; run "
            "it on the simulator"
        )
    return [f"read-only run against {', '.join(slugs)}"]
