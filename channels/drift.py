"""Drift decisions: a person approves (push the hub's number, or accept the channel's)
or rejects what the hub recorded (open or escalated drift). Each decision is one
transaction and audited; accepting the channel's number is a ledger adjustment that
names the approver and the drift."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ledger.errors import InvalidState
from ledger.models import Source
from ledger.services import Origin, stock_adjust

from .models import DRIFT_UNDECIDED, ChannelAudit, ChannelAuditKind, Drift, DriftStatus
from .propagation.outbox import outbox_refresh_for_skus
from .selectors import channel_locations

PUSH_HUB = "push_hub"
ACCEPT_CHANNEL = "accept_channel"


def _name(actor) -> str:
    return actor.get_username() if actor is not None and actor.is_authenticated else "system"


def _open_drift(drift: Drift) -> Drift:
    current = (
        Drift.objects.select_for_update(of=("self",))
        .select_related("channel", "sku")
        .get(pk=drift.pk)
    )
    if current.status not in DRIFT_UNDECIDED:
        raise InvalidState(
            f"Drift {current.pk} was already decided ({current.status}).",
            drift_id=current.pk,
            status=current.status,
        )
    return current


def _decide(drift: Drift, status: str, note: str, actor, message: str) -> Drift:
    drift.status = status
    drift.decision_note = note
    drift.decided_at = timezone.now()
    drift.decided_by = actor if actor is not None and actor.is_authenticated else None
    drift.save(update_fields=["status", "decision_note", "decided_at", "decided_by"])
    ChannelAudit.objects.create(
        kind=ChannelAuditKind.DRIFT,
        channel=drift.channel,
        sku=drift.sku,
        actor=drift.decided_by,
        message=message,
        data={"drift_id": drift.pk, "note": note},
    )
    return drift


def drift_approve(
    *, drift: Drift, action: str, note: str = "", actor: AbstractBaseUser | None = None
) -> Drift:
    """push_hub: the hub is right; push its published quantity to the channel again.
    accept_channel: the channel is right (a person counted); the difference becomes an
    adjustment at the channel's first fulfilment location, with the note as its reason."""
    with transaction.atomic():
        drift = _open_drift(drift)
        if action == PUSH_HUB:
            outbox_refresh_for_skus(
                sku_ids=[drift.sku_id], channel_ids=[drift.channel_id], force=True
            )
            message = f"approved: push the hub's {drift.hub_quantity} to {drift.channel.slug}"
        elif action == ACCEPT_CHANNEL:
            delta = drift.channel_quantity - drift.hub_quantity
            if delta:
                locations = channel_locations(channel=drift.channel)
                stock_adjust(
                    sku=drift.sku,
                    quantity=delta,
                    location=locations[0] if locations else None,
                    origin=Origin(
                        source=Source.USER,
                        actor=actor,
                        reason=(
                            f"drift {drift.pk} accepted from {drift.channel.slug} by "
                            f"{_name(actor)}: {note}"
                        )[:500],
                        idempotency_key=f"drift:{drift.pk}:accept",
                    ),
                )
            message = (
                f"approved: accept {drift.channel.slug}'s {drift.channel_quantity} ({delta:+})"
            )
        else:
            raise ValueError(action)
        return _decide(drift, DriftStatus.APPROVED, note, actor, message)


def drift_reject(*, drift: Drift, note: str = "", actor: AbstractBaseUser | None = None) -> Drift:
    with transaction.atomic():
        drift = _open_drift(drift)
        return _decide(drift, DriftStatus.REJECTED, note, actor, "rejected: no action")
