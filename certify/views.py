"""The Certify page: start a run, watch it, read the last reports.

A run is `manage.py certify --run-id N` in a subprocess of the web process, not a Celery
task: it starts and stops processes of its own (the simulator, and a hub stack when none
answers), lasts minutes, and would otherwise hold a worker slot beside the very drains it
measures. The subprocess writes its progress into the CertifyRun row; the page polls a
partial every second while the run is going."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from csp.decorators import csp
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.vary import vary_on_headers

from channels.models import Channel
from foundation.permissions import requires

from .models import CertifyRun, RunStatus

# Certify moves stock (receipts and counts at its own location): a Merchant's right.
RULE = {"GET": "ledger.record_movement", "POST": "ledger.record_movement"}
# Writing to the merchant's real stores (listing and pushing the CERTIFY-BULK-* SKUs
# there) is the Admin's, as every change of what goes to a channel's address is.
WRITE_PERMISSION = "channels.manage_channel_endpoints"
HISTORY = 10


def _running() -> CertifyRun | None:
    """The run going now; one whose process is gone (killed, the machine restarted) is
    marked as such rather than blocking every later run."""
    run = CertifyRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()
    if run is not None and run.pid and not process_alive(run.pid):
        CertifyRun.objects.filter(pk=run.pk, status=run.status).update(
            status=RunStatus.ERROR, error="the run's process ended without a report"
        )
        return None
    return run


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@requires(RULE)
@vary_on_headers("HX-Request")
def certify_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _start(request)
    runs = list(CertifyRun.objects.defer("report_html")[:HISTORY])
    current = runs[0] if runs else None
    context = {
        "runs": runs,
        "run": current,
        "running": _running(),
        "own_channels": _own_channels(),
        "may_write": request.user.has_perm(WRITE_PERMISSION),
    }
    template = "certify/page.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, context)


def _own_channels() -> list[Channel]:
    """The merchant's enabled channels, which a run may use instead of the simulator
    (a run's own channels, ``certify-<run>-<kind>``, are not among them)."""
    return list(
        Channel.objects.filter(enabled=True)
        .exclude(slug__startswith="certify-")
        .only("slug", "name", "kind")
        .order_by("name")
    )


def _start(request: HttpRequest) -> HttpResponse:
    if _running() is not None:
        messages.error(request, "A certify run is already going: wait for it to finish.")
        return redirect("certify:page")
    quick = request.POST.get("size") == "quick"
    chosen = request.POST.getlist("channels")
    known = {channel.slug for channel in _own_channels()}
    allow_writes = request.POST.get("allow_writes") == "on"
    refusal = ""
    if unknown := sorted(set(chosen) - known):
        refusal = f"No enabled channel {', '.join(unknown)}: nothing was started."
    elif allow_writes and not chosen:
        refusal = "Writing to your stores needs at least one of them chosen: nothing was started."
    elif allow_writes and not request.user.has_perm(WRITE_PERMISSION):
        refusal = (
            "Only an Admin may let a run write to the stores (it lists and pushes the "
            "CERTIFY-BULK-* SKUs there): nothing was started."
        )
    if refusal:
        messages.error(request, refusal)
        return redirect("certify:page")
    run = CertifyRun.objects.create(
        started_by=request.user,
        options={
            "size": "quick" if quick else "full",
            "channels": sorted(chosen),
            "allow_writes": allow_writes,
        },
    )
    web_url = f"{request.scheme}://{request.get_host()}"
    command = [
        sys.executable, "manage.py", "certify", "--run-id", str(run.pk), "--web-url", web_url,
    ]  # fmt: skip
    if quick:
        command += QUICK
    if chosen:
        command += ["--channels", ",".join(sorted(chosen))]
    if allow_writes:
        command += ["--allow-writes"]
    pid = launch(command, log=settings.VAR_DIR / f"certify-run-{run.pk}.log")
    CertifyRun.objects.filter(pk=run.pk).update(pid=pid)
    messages.success(request, f"Certify run {run.pk} started.")
    return redirect("certify:page")


def launch(command: list[str], *, log: Path) -> int:
    """Start the run in a session of its own (it outlives the request and the web
    worker), its output appended to `log`; the process id."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return process.pid


# A few minutes instead of ten: every test, smaller.
QUICK = [
    "--burst-orders", "20", "--burst-seconds", "20", "--bulk-skus", "100",
    "--recovery-orders", "12", "--recovery-seconds", "8", "--kinds",
    "sandbox,standard,shopify,woocommerce,ebay",
]  # fmt: skip


# The report's own styles are inline; nothing else may load, run or frame it.
REPORT_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["data:"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
}


@requires({"GET": "ledger.record_movement"})
@csp(REPORT_POLICY)
def certify_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's self-contained HTML report (inline CSS and SVG: nothing else may load)."""
    run = get_object_or_404(CertifyRun, pk=pk)
    if not run.report_html:
        raise Http404("This run has no report (yet).")
    return HttpResponse(run.report_html)
