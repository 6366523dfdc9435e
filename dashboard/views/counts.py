"""Physical counts in the browser: upload a CSV (a file or pasted text), see the preview
(per line: the ledger's number at the count time, counted, the difference, what was
committed or shipped since, and whether it applies at once or waits for approval), apply
it, and decide the lines that wait for a person.

The views only translate input: the rules are `channels.reconcile.counts` (the same
services the API's /api/v1/counts/ endpoints call, under the same permissions). A refused
count answers 422 with the service's message and writes nothing. The preview writes
nothing at all; apply runs in the request (each line one ledger transaction), so the page
shows an upload bar and a "working" indicator, not a fake percentage.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from channels.models import CountLine, CountStatus
from channels.reconcile.counts import (
    MAX_LINES,
    CountInput,
    count_apply,
    count_line_approve,
    count_line_reject,
    count_lines_parse,
    count_preview,
)
from foundation.errors import DomainError
from foundation.permissions import requires

from .common import NOT_ACCEPTED, PAGE_SIZE, wants_partial

# The same rules as api/reconcile.py: reading count lines, recording a count (preview
# and apply), deciding a line above the auto-fix threshold.
VIEW = "channels.view_countline"
RECORD = "ledger.record_movement"
DECIDE = "channels.decide_drift"
# A CSV travels back with the Apply button as a form field, so it must fit in one
# request body (Django's DATA_UPLOAD_MAX_MEMORY_SIZE); larger files go through the API.
MAX_CSV_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 64 * 1024
NOTE_LIMIT = 1000
ACTIONS = {"apply": "Applies at once", "needs_approval": "Waits for approval", "refused": "Refused"}


def _awaiting_page(page_number=None):
    rows = (
        CountLine.objects.filter(status=CountStatus.AWAITING_APPROVAL)
        .select_related("sku", "location", "created_by")
        .order_by("id")
    )
    return Paginator(rows, PAGE_SIZE).get_page(page_number)


def _render(
    request: HttpRequest,
    *,
    csv_text: str = "",
    preview: list[dict] | None = None,
    report: dict | None = None,
    batch: str = "",
    notice: str = "",
    notice_error: bool = False,
    row_errors: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    page = _awaiting_page(request.GET.get("page"))
    summary = {}
    if preview is not None:
        summary = {action: sum(1 for p in preview if p["action"] == action) for action in ACTIONS}
        for line in preview:
            line["action_label"] = ACTIONS.get(line["action"], line["action"])
    if report is not None:
        labels = dict(CountStatus.choices)
        for line in report["lines"]:
            line["status_label"] = labels.get(line["status"], line["status"])
    awaiting = list(page.object_list)
    for row in awaiting:
        row.error = (row_errors or {}).get(row.pk, "")
    context = {
        "csv_text": csv_text,
        "preview": preview,
        "summary": summary,
        "actions": ACTIONS,
        "report": report,
        "batch": batch or uuid.uuid4().hex,
        "notice": notice,
        "notice_error": notice_error,
        "page": page,
        "awaiting": awaiting,
        "may_record": request.user.has_perm(RECORD),
        "may_decide": request.user.has_perm(DECIDE),
        "max_lines": MAX_LINES,
        "threshold": settings.DRIFT_AUTO_FIX_MAX_DELTA,
        "max_kb": MAX_CSV_BYTES // 1024,
    }
    template_name = "dashboard/counts.html"
    if wants_partial(request):
        template_name += "#counts_body"
    return render(request, template_name, context, status=status)


class _Refused(Exception):
    def __init__(self, message: str, csv_text: str = ""):
        super().__init__(message)
        self.message, self.csv_text = message, csv_text


def _csv_text(request: HttpRequest) -> str:
    """The CSV from the file input or, without a file, the pasted text."""
    try:
        upload = request.FILES.get("file")
        pasted = request.POST.get("csv", "")
    except RequestDataTooBig:
        raise _Refused(
            f"The pasted count is larger than {MAX_CSV_BYTES // 1024} KB. Upload it as a "
            "file in parts, or send it to /api/v1/counts/apply/. Nothing was recorded."
        ) from None
    if upload is not None:
        if upload.size > MAX_CSV_BYTES:
            raise _Refused(
                f"{upload.name} is {upload.size // 1024} KB; the page takes up to "
                f"{MAX_CSV_BYTES // 1024} KB ({MAX_LINES} lines at most). Split it, or send "
                "it to /api/v1/counts/apply/. Nothing was recorded."
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _Refused(
                f"{upload.name} is not UTF-8 text: save it as CSV (UTF-8) and upload it again."
            ) from None
    if len(pasted.encode()) > MAX_CSV_BYTES:
        raise _Refused(f"The pasted count is larger than {MAX_CSV_BYTES // 1024} KB.", pasted)
    if not pasted.strip():
        raise _Refused("Choose a CSV file or paste the count (a header row sku,location,counted).")
    return pasted


def _lines(request: HttpRequest) -> tuple[str, list[CountInput]]:
    text = _csv_text(request)
    try:
        return text, count_lines_parse(text=text)
    except DomainError as exc:
        raise _Refused(exc.message, text) from None


@requires({"GET": VIEW})
@vary_on_headers("HX-Request")
def counts(request: HttpRequest) -> HttpResponse:
    """The page: the upload form, and the count lines waiting for approval."""
    return _render(request)


@requires({"POST": RECORD})
@require_POST
def count_preview_view(request: HttpRequest) -> HttpResponse:
    """What applying would do, line by line; writes nothing."""
    try:
        text, lines = _lines(request)
        preview = count_preview(lines=lines)
    except _Refused as exc:
        return _refuse(request, exc.message, exc.csv_text)
    except DomainError as exc:
        return _refuse(request, exc.message, text)
    return _render(request, csv_text=text, preview=preview)


@requires({"POST": RECORD})
@require_POST
def count_apply_view(request: HttpRequest) -> HttpResponse:
    """Apply the previewed count. `batch` (made with the page) makes a second click
    return the first result instead of counting again."""
    batch = "".join(c for c in request.POST.get("batch", "") if c.isalnum())[:40]
    try:
        text, lines = _lines(request)
        report = count_apply(lines=lines, actor=request.user, batch=f"web-{batch}" if batch else "")
    except _Refused as exc:
        return _refuse(request, exc.message, exc.csv_text)
    except DomainError as exc:
        return _refuse(request, exc.message, text)
    summary = report["summary"]
    notice = (
        f"Count applied: {summary[CountStatus.APPLIED]} line(s) applied, "
        f"{summary[CountStatus.AWAITING_APPROVAL]} waiting for approval"
    )
    if summary[CountStatus.FAILED]:
        notice += f", {summary[CountStatus.FAILED]} refused by the ledger (see below)"
    return _render(request, report=report, notice=notice + ".")


@requires({"POST": DECIDE})
@require_POST
def count_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve (apply now, brought forward from the count time) or reject one line."""
    action = request.POST.get("act", "")
    note = request.POST.get("note", "").strip()
    if action not in ("approve", "reject"):
        return _refuse(request, "Choose approve or reject.", row=pk)
    if len(note) > NOTE_LIMIT:
        return _refuse(
            request,
            f"A note is at most {NOTE_LIMIT} characters; this one has {len(note)}.",
            row=pk,
        )
    decide = count_line_approve if action == "approve" else count_line_reject
    try:
        row = decide(pk=pk, actor=request.user, note=note)
    except DomainError as exc:
        return _refuse(request, exc.message, row=pk)
    done = "Approved and applied" if action == "approve" else "Rejected"
    notice = f"{done}: {row.sku.code} at {row.location.code}, counted {row.counted}."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:counts")
    return _render(request, notice=notice)


def _refuse(request: HttpRequest, message: str, csv_text: str = "", row: int | None = None):
    if not request.htmx and row is not None:
        messages.error(request, message)
        return redirect("dashboard:counts")
    return _render(
        request,
        csv_text=csv_text,
        notice=message,
        notice_error=True,
        row_errors={row: message} if row is not None else None,
        status=NOT_ACCEPTED,
    )
