"""python manage.py certify [--channels SLUG,...] [--report FILE] [--keep]

The buyer's five tests against this hub (same DATABASE_URL and REDIS_URL), with a
progress bar per test and a table at the end. Exit status 0 when every test passed, 1
when one failed, 2 when certify could not run here.

With --channels (the merchant's own sandbox stores) burst, concurrent and recovery are
skipped (certify cannot place orders or inject faults on a real store); bulk runs only
with --allow-writes, through those channels' adapters, on CERTIFY-BULK-* SKUs the stores
must already carry; audit follows one of them (or, read-only, the last SKU sold there)."""

from __future__ import annotations

import sys
import traceback

from django.core.management.base import BaseCommand
from django.utils import timezone

from certify import report, runner, stack, workspace
from certify.checks import NAMES
from certify.models import CertifyRun, RunStatus
from certify.progress import Progress
from certify.views import process_alive


def csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Run the buyer's five tests (burst, concurrent, recovery, bulk, audit) against this hub."

    def add_arguments(self, parser):
        parser.add_argument("--report", default="", help="write FILE.json and FILE.html")
        parser.add_argument(
            "--keep", action="store_true", help="leave the run's channels and stock in place"
        )
        parser.add_argument(
            "--channels",
            type=csv,
            default=[],
            help="SLUG,...: the merchant's own (sandbox) channels instead of the simulator; "
            "burst, concurrent and recovery are skipped there, bulk needs --allow-writes",
        )
        parser.add_argument(
            "--allow-writes",
            action="store_true",
            help="with --channels: run the bulk test there: list the CERTIFY-BULK-0001.. SKUs "
            "(--bulk-skus of them; create them in the stores first) on those channels and push "
            "their test stock; clean-up pushes 0 and drops the listings, the stores keep the "
            "products. Without it nothing is written to the channels",
        )
        parser.add_argument("--tests", type=csv, default=NAMES, help=f"of {','.join(NAMES)}")
        parser.add_argument("--web-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--own-stack",
            action="store_true",
            help="start gunicorn + workers + beat even when a hub answers at --web-url",
        )
        parser.add_argument("--simulator-url", default="", help="a running simulator")
        parser.add_argument(
            "--kinds", type=csv, default=list(workspace.DEFAULT_KINDS), help="channel kinds"
        )
        parser.add_argument("--burst-orders", type=int, default=50)
        parser.add_argument("--burst-seconds", type=float, default=60.0)
        parser.add_argument("--race-skus", type=int, default=5)
        parser.add_argument("--recovery-orders", type=int, default=40)
        parser.add_argument(
            "--recovery-seconds",
            type=float,
            default=65.0,
            help="per fault phase (500, then outage); 2 x 65 s lets pushes reach the DLQ",
        )
        parser.add_argument("--recovery-timeout", type=float, default=150.0)
        parser.add_argument(
            "--bulk-skus", type=int, default=500, help="SKUs of the bulk test (500+: the buyer's)"
        )
        parser.add_argument("--bulk-timeout", type=float, default=600.0)
        parser.add_argument("--settle-seconds", type=float, default=60.0)
        parser.add_argument("--audit-sku", default="")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--cleanup", action="store_true", help="only remove what earlier runs left"
        )
        parser.add_argument("--run-id", type=int, default=None, help="(the dashboard's run)")

    def handle(self, *args, **options):
        opts = _Namespace(options)
        unknown = [t for t in opts.tests if t not in NAMES]
        if unknown:
            self.stderr.write(f"unknown tests: {', '.join(unknown)} (known: {', '.join(NAMES)})")
            sys.exit(2)
        if opts.cleanup:
            workspace.allow_loopback()
            done = workspace.cleanup(log=self.stdout.write)
            self.stdout.write(f"cleanup done: {done}")
            return
        run = self._run_row(opts)
        busy = CertifyRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=run.pk).first()
        if busy is not None and busy.pid and process_alive(busy.pid):
            self._finish(run, RunStatus.ERROR, error=f"certify run {busy.pk} is still running")
            self.stderr.write(f"certify: run {busy.pk} is still running (pid {busy.pid})")
            sys.exit(2)
        tty = self.stdout.isatty()
        progress = Progress(self.stdout, tty=tty, run_pk=run.pk)
        try:
            result = runner.run(opts, progress)
        except stack.StackError as exc:
            self._finish(run, RunStatus.ERROR, error=str(exc))
            self.stderr.write(f"certify cannot run here: {exc}")
            sys.exit(2)
        except BaseException as exc:
            self._finish(run, RunStatus.ERROR, error="".join(traceback.format_exception(exc)))
            raise
        page = report.html(result)
        self.stdout.write("")
        self.stdout.write(report.table(result))
        if opts.report:
            json_path, html_path = report.write(result, opts.report)
            self.stdout.write(f"report: {json_path} and {html_path}")
        status = RunStatus.PASSED if result["status"] == "pass" else RunStatus.FAILED
        self._finish(run, status, report_json=result, report_html=page)
        if status != RunStatus.PASSED:
            sys.exit(1)

    @staticmethod
    def _run_row(opts) -> CertifyRun:
        import os

        row = CertifyRun.objects.filter(pk=opts.run_id).first() if opts.run_id else None
        if row is None:
            row = CertifyRun.objects.create(options=opts.plain())
        CertifyRun.objects.filter(pk=row.pk).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), pid=os.getpid()
        )
        return row

    @staticmethod
    def _finish(run, status, *, error="", report_json=None, report_html="") -> None:
        CertifyRun.objects.filter(pk=run.pk).update(
            status=status,
            error=error[-5000:],
            report=report_json,
            report_html=report_html,
            finished_at=timezone.now(),
        )


class _Namespace:
    """The command's options as attributes (what the tests and the runner read)."""

    def __init__(self, options: dict) -> None:
        self.__dict__.update(options)

    def plain(self) -> dict:
        return {
            k: v
            for k, v in self.__dict__.items()
            if isinstance(v, str | int | float | bool | list) and k not in ("stdout", "stderr")
        }
