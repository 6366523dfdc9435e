"""What the hub does with a recorded drift once the investigator has spoken.

The gate is the hub's, never the investigator's: auto-correct only when confidence >=
DRIFT_AUTO_FIX_CONFIDENCE and |delta| <= DRIFT_AUTO_FIX_MAX_DELTA. An auto-correction
re-pushes the hub's number (the ledger wins) and never changes the ledger; everything
else is escalated to a person with its reasoning (`channels.drift` has their decisions).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import (
    ChannelAudit,
    ChannelAuditKind,
    Drift,
    DriftSeverity,
    DriftStatus,
)
from ..propagation.outbox import outbox_refresh_for_skus
from .evidence import evidence_gather
from .investigate import Investigator, Verdict, investigator_default


def drift_severity(delta: int) -> str:
    size = abs(delta)
    if size <= settings.DRIFT_MINOR_MAX:
        return DriftSeverity.MINOR
    if size <= settings.DRIFT_MAJOR_MAX:
        return DriftSeverity.MAJOR
    return DriftSeverity.CRITICAL


def auto_fix_allowed(*, confidence: float, delta: int) -> bool:
    return (
        confidence >= settings.DRIFT_AUTO_FIX_CONFIDENCE
        and abs(delta) <= settings.DRIFT_AUTO_FIX_MAX_DELTA
    )


def drift_investigate(*, drift_id: int, investigator: Investigator | None = None) -> Drift | None:
    """Gather the evidence, ask the investigator (outside any transaction: a model
    server may take seconds), then apply the gate in one transaction. A drift decided
    meanwhile (a person, a late webhook) is left alone."""
    drift = Drift.objects.select_related("sku", "channel", "listing").filter(pk=drift_id).first()
    if drift is None or drift.status != DriftStatus.OPEN:
        return drift
    evidence = evidence_gather(drift)
    verdict = (investigator or investigator_default()).investigate(evidence)
    return drift_apply_verdict(drift_id=drift.pk, verdict=verdict, evidence=evidence)


def drift_apply_verdict(*, drift_id: int, verdict: Verdict, evidence: dict) -> Drift | None:
    with transaction.atomic():
        drift = (
            Drift.objects.select_for_update(of=("self",))
            .select_related("channel", "sku")
            .filter(pk=drift_id, status=DriftStatus.OPEN)
            .first()
        )
        if drift is None:
            return None
        allowed = auto_fix_allowed(confidence=verdict.confidence, delta=drift.delta)
        gate = (
            f"confidence {verdict.confidence:.2f} (needs >= "
            f"{settings.DRIFT_AUTO_FIX_CONFIDENCE:.2f}), |delta| {abs(drift.delta)} (needs <= "
            f"{settings.DRIFT_AUTO_FIX_MAX_DELTA})"
        )
        drift.severity = drift_severity(drift.delta)
        drift.confidence = Decimal(str(round(verdict.confidence, 2)))
        drift.reasoning = verdict.reasoning
        drift.evidence = {
            **evidence,
            "investigator": verdict.investigator,
            "understood": verdict.understood,
            "gate": gate,
        }
        fields = ["severity", "confidence", "reasoning", "evidence", "status"]
        if allowed:
            outbox_refresh_for_skus(
                sku_ids=[drift.sku_id], channel_ids=[drift.channel_id], force=True
            )
            drift.status = DriftStatus.AUTO_CORRECTED
            drift.decided_at = timezone.now()
            drift.decision_note = f"auto-corrected: re-pushed the hub's {drift.hub_quantity}"
            fields += ["decided_at", "decision_note"]
            message = (
                f"auto-corrected: {drift.channel.slug} showed {drift.channel_quantity}, "
                f"re-pushing the hub's {drift.hub_quantity} ({gate})"
            )
        else:
            drift.status = DriftStatus.ESCALATED
            message = (
                f"escalated: {drift.channel.slug} shows {drift.channel_quantity}, the hub "
                f"publishes {drift.hub_quantity} ({gate})"
            )
        drift.save(update_fields=fields)
        ChannelAudit.objects.create(
            kind=ChannelAuditKind.DRIFT,
            channel=drift.channel,
            sku=drift.sku,
            message=message,
            data={"drift_id": drift.pk, "status": drift.status, "confidence": verdict.confidence},
        )
        return drift


def drift_resolve(*, drift: Drift, reason: str) -> None:
    """The drift disappeared by itself before anyone decided (a late webhook or push
    landed): closed as resolved, with the reason. Call with the drift row locked."""
    drift.status = DriftStatus.RESOLVED
    drift.decided_at = timezone.now()
    drift.decision_note = reason
    drift.save(update_fields=["status", "decided_at", "decision_note"])
    ChannelAudit.objects.create(
        kind=ChannelAuditKind.DRIFT,
        channel_id=drift.channel_id,
        sku_id=drift.sku_id,
        message=f"resolved by itself: {reason}",
        data={"drift_id": drift.pk, "status": drift.status},
    )
