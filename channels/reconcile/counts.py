"""Physical counts: a CSV (`sku,location,counted[,counted_at]`) or a list of lines.

The preview changes nothing: per line, the ledger's on hand at the count time, the
counted number, the difference, and what was committed to orders or shipped since the
count time. Applying writes count movements through `ledger.services.stock_count`,
which locks the SKU's level and brings a past count forward by what moved since (never
backdated), so an order placed after the count is never erased. A difference above the
auto-fix thresholds (DRIFT_AUTO_FIX_MAX_DELTA units) waits for a person with the
permission to approve drift.

Why the seed report's 581-SKU over-correction cannot happen here: (1) a count corrects
the ledger by the difference at the count time, not by overwriting the current number,
so orders committed or shipped since stay counted; (2) channels are never sent a count:
they get the published quantity, computed from available (on hand minus committed) by
the allocation rules; (3) a big difference is applied by no script: a person approves it.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from foundation.errors import DomainError, NotFound
from ledger.errors import InvalidState
from ledger.models import (
    Location,
    Movement,
    MovementKind,
    Sku,
    Source,
    StockLevel,
    normalize_sku_code,
)
from ledger.services import Origin, location_default, stock_count

from ..models import CountLine, CountStatus

MAX_LINES = 20_000


class CountRefused(DomainError):
    code = "invalid_count"
    http_status = 400


@dataclass
class CountInput:
    line: int
    sku: str
    location: str
    counted: int
    counted_at: datetime


@dataclass
class CountPreview:
    line: int
    sku: str
    location: str
    counted: int
    counted_at: str
    ledger_at_count: int
    difference: int
    on_hand_now: int
    on_hand_after: int
    committed_now: int
    committed_since_count: int
    shipped_since_count: int
    action: str  # apply | needs_approval | refused
    reason: str = ""


def _parse_moment(raw, *, line: int, now: datetime) -> datetime:
    if raw in (None, ""):
        return now
    if isinstance(raw, datetime):
        moment = raw
    else:
        text = str(raw).strip()
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime(day.year, day.month, day.day)
        if moment is None:
            raise CountRefused(f"Line {line}: counted_at {text!r} is not a date and time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    if moment > now:
        raise CountRefused(f"Line {line}: counted_at {moment.isoformat()} is in the future.")
    return moment


def count_lines_parse(*, text: str | None = None, lines: list | None = None) -> list[CountInput]:
    """CSV text or a list of {sku, location, counted, counted_at} into checked lines."""
    now = timezone.now()
    if text is not None:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = {"sku", "counted"} - set(reader.fieldnames or [])
        if missing:
            raise CountRefused(
                "The CSV needs a header row sku,location,counted[,counted_at]; missing "
                + ", ".join(sorted(missing))
                + "."
            )
        rows = [(number, row) for number, row in enumerate(reader, start=2)]
    else:
        rows = list(enumerate(lines or [], start=1))
    if not rows:
        raise CountRefused("The count has no lines.")
    if len(rows) > MAX_LINES:
        raise CountRefused(f"At most {MAX_LINES} lines per count.")
    parsed = []
    seen: set[tuple[str, str]] = set()
    for number, row in rows:
        if not isinstance(row, dict):
            raise CountRefused(f"Line {number}: expected an object with sku and counted.")
        sku = str(row.get("sku") or "").strip()
        location = str(row.get("location") or "").strip()
        raw = row.get("counted")
        try:
            counted = int(str(raw).strip()) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            counted = None
        if not sku:
            raise CountRefused(f"Line {number}: no sku.")
        if counted is None or counted < 0:
            raise CountRefused(f"Line {number}: counted {raw!r} is not a whole number >= 0.")
        key = (normalize_sku_code(sku), location)
        if key in seen:
            raise CountRefused(f"Line {number}: {sku} at {location or 'default'} twice.")
        seen.add(key)
        moment = _parse_moment(row.get("counted_at"), line=number, now=now)
        parsed.append(CountInput(number, sku, location, counted, moment))
    return parsed


def _resolve(lines: list[CountInput]) -> tuple[dict[str, Sku], dict[str, Location]]:
    skus = {
        sku.code_key: sku
        for sku in Sku.objects.filter(code_key__in={normalize_sku_code(x.sku) for x in lines})
    }
    default = location_default()
    locations = {"": default, **{loc.code: loc for loc in Location.objects.all()}}
    for line in lines:
        if normalize_sku_code(line.sku) not in skus:
            raise CountRefused(f"Line {line.line}: no SKU {line.sku!r}.", sku=line.sku)
        if line.location not in locations:
            raise CountRefused(
                f"Line {line.line}: no location {line.location!r}.", location=line.location
            )
    return skus, locations


def _preview_line(line: CountInput, sku: Sku, location: Location) -> CountPreview:
    level = StockLevel.objects.filter(sku=sku, location=location).first()
    on_hand = level.on_hand if level else 0
    committed = level.committed if level else 0
    since = Movement.objects.filter(sku=sku, location=location, recorded_at__gt=line.counted_at)
    moved = since.aggregate(
        on_hand=Sum("on_hand_delta"),
        committed=Sum("committed_delta", filter=Q(kind=MovementKind.RESERVE)),
        shipped=Sum("on_hand_delta", filter=Q(kind=MovementKind.SHIP)),
    )
    at_count = on_hand - (moved["on_hand"] or 0)
    difference = line.counted - at_count
    after = on_hand + difference
    if after < committed:
        action = "refused"
        reason = f"on hand would be {after}, below the {committed} units committed to open orders"
    elif abs(difference) > settings.DRIFT_AUTO_FIX_MAX_DELTA:
        action = "needs_approval"
        limit = settings.DRIFT_AUTO_FIX_MAX_DELTA
        reason = (
            f"a difference of {abs(difference)} units is more than the {limit} that apply at once"
        )
    else:
        action, reason = "apply", ""
    return CountPreview(
        line=line.line,
        sku=sku.code,
        location=location.code,
        counted=line.counted,
        counted_at=line.counted_at.isoformat(),
        ledger_at_count=at_count,
        difference=difference,
        on_hand_now=on_hand,
        on_hand_after=after,
        committed_now=committed,
        committed_since_count=moved["committed"] or 0,
        shipped_since_count=-(moved["shipped"] or 0),
        action=action,
        reason=reason,
    )


def count_preview(*, lines: list[CountInput]) -> list[dict]:
    """What applying would do, line by line. Changes nothing."""
    skus, locations = _resolve(lines)
    return [
        asdict(_preview_line(line, skus[normalize_sku_code(line.sku)], locations[line.location]))
        for line in lines
    ]


def _count(line: CountLine, *, actor, reason: str, key: str):
    return stock_count(
        sku=line.sku,
        counted=line.counted,
        location=line.location,
        counted_at=line.counted_at,
        origin=Origin(source=Source.USER, actor=actor, reason=reason[:500], idempotency_key=key),
    )


def count_apply(*, lines: list[CountInput], actor=None, batch: str = "") -> dict:
    """Apply a count: small differences at once (each line one ledger transaction under
    the SKU's lock), big ones kept for approval. `batch` (e.g. an Idempotency-Key) makes
    a retry return the first result instead of counting again."""
    batch = (batch or uuid.uuid4().hex)[:40]
    if CountLine.objects.filter(batch=batch).exists():
        return _batch_report(batch)
    skus, locations = _resolve(lines)
    user = actor if actor is not None and actor.is_authenticated else None
    for line in lines:
        sku, location = skus[normalize_sku_code(line.sku)], locations[line.location]
        with transaction.atomic():
            preview = _preview_line(line, sku, location)
            row = CountLine(
                batch=batch,
                sku=sku,
                location=location,
                counted=line.counted,
                counted_at=line.counted_at,
                ledger_at_count=preview.ledger_at_count,
                difference=preview.difference,
                created_by=user,
            )
            if preview.action == "needs_approval":
                row.status, row.note = CountStatus.AWAITING_APPROVAL, preview.reason
                row.save()
                continue
            try:
                with transaction.atomic():
                    operation = _count(
                        row,
                        actor=actor,
                        reason=f"count {batch} line {line.line}",
                        key=f"count:{batch}:{line.line}",
                    )
            except DomainError as exc:
                row.status, row.note = CountStatus.FAILED, str(exc)[:1000]
            else:
                row.status, row.operation_id = CountStatus.APPLIED, operation.pk
            row.save()
    return _batch_report(batch)


def _batch_report(batch: str) -> dict:
    rows = CountLine.objects.filter(batch=batch).select_related("sku", "location").order_by("id")
    return {
        "batch": batch,
        "lines": [count_line_dict(row) for row in rows],
        "summary": {
            status: sum(1 for row in rows if row.status == status) for status in CountStatus.values
        },
    }


def count_line_dict(row: CountLine) -> dict:
    return {
        "id": row.pk,
        "batch": row.batch,
        "sku": row.sku.code,
        "location": row.location.code,
        "counted": row.counted,
        "counted_at": row.counted_at.isoformat(),
        "ledger_at_count": row.ledger_at_count,
        "difference": row.difference,
        "status": row.status,
        "note": row.note,
        "decided_by": row.decided_by.get_username() if row.decided_by else None,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


def _awaiting(pk: int) -> CountLine:
    row = (
        CountLine.objects.select_for_update(of=("self",))
        .select_related("sku", "location")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise NotFound(f"No count line {pk}.", count_line=pk)
    if row.status != CountStatus.AWAITING_APPROVAL:
        raise InvalidState(
            f"Count line {pk} was already decided ({row.status}).", status=row.status
        )
    return row


def count_line_approve(*, pk: int, actor, note: str = "") -> CountLine:
    """A person approves a big difference: the count is applied now, brought forward
    from its count time under the SKU's lock (orders since then stay)."""
    with transaction.atomic():
        row = _awaiting(pk)
        name = actor.get_username() if actor is not None and actor.is_authenticated else "system"
        operation = _count(
            row,
            actor=actor,
            reason=f"count line {row.pk} approved by {name}: {note}",
            key=f"count-line:{row.pk}:approve",
        )
        row.status, row.operation_id = CountStatus.APPROVED, operation.pk
        row.decided_by = actor if actor is not None and actor.is_authenticated else None
        row.decided_at, row.note = timezone.now(), note[:1000] or row.note
        row.save(update_fields=["status", "operation_id", "decided_by", "decided_at", "note"])
        return row


def count_line_reject(*, pk: int, actor, note: str = "") -> CountLine:
    with transaction.atomic():
        row = _awaiting(pk)
        row.status = CountStatus.REJECTED
        row.decided_by = actor if actor is not None and actor.is_authenticated else None
        row.decided_at, row.note = timezone.now(), note[:1000]
        row.save(update_fields=["status", "decided_by", "decided_at", "note"])
        return row
