"""The dead-letter queue: what a person does with a push that kept failing. Retry gives it
another round with the newest target; discard keeps the row and says nobody wants it.
Each action is audited with the person who took it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from foundation.queueing import enqueue

from ..models import (
    ChannelAudit,
    ChannelAuditKind,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from .wake import DRAIN_TASK


def dlq_retry(*, entries: list[OutboxEntry], actor=None) -> int:
    """Give dead entries another round: back to pending now, attempts reset. An entry
    whose listing already has a newer pending target is superseded instead."""
    now = timezone.now()
    done = 0
    with transaction.atomic():
        dead = list(
            OutboxEntry.objects.select_for_update(of=("self",))
            .filter(pk__in=[e.pk for e in entries], status=OutboxStatus.DEAD)
            .select_related("listing", "channel")
        )
        listing_ids = sorted({entry.listing_id for entry in dead})
        locked = {
            listing.pk: listing
            for listing in Listing.objects.select_for_update()
            .filter(pk__in=listing_ids)
            .order_by("pk")
        }
        pending = set(
            OutboxEntry.objects.filter(
                listing_id__in=[e.listing_id for e in dead], status=OutboxStatus.PENDING
            ).values_list("listing_id", flat=True)
        )
        for entry in dead:
            if entry.listing_id in pending:
                entry.status = OutboxStatus.SUPERSEDED
            else:
                entry.status, entry.attempts, entry.next_attempt_at = OutboxStatus.PENDING, 0, now
                # The newest target, not the one that died: stock moved since.
                entry.quantity = locked[entry.listing_id].published
                entry.target_version = locked[entry.listing_id].target_version
                pending.add(entry.listing_id)
                Listing.objects.filter(pk=entry.listing_id).update(state=ListingState.PENDING)
            entry.save(
                update_fields=[
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "quantity",
                    "target_version",
                ]
            )
            ChannelAudit.objects.create(
                kind=ChannelAuditKind.RETRY,
                channel=entry.channel,
                sku_id=entry.listing.sku_id,
                outbox_entry=entry,
                actor=actor if actor is not None and actor.is_authenticated else None,
                message=f"retried from the DLQ ({entry.status})",
            )
            done += 1
        for channel_id in sorted({e.channel_id for e in dead}):
            transaction.on_commit(lambda c=channel_id: enqueue(DRAIN_TASK, c))
    return done


def dlq_discard(*, entries: list[OutboxEntry], actor=None) -> int:
    """A person decided this push is not wanted: keep the row, mark it discarded."""
    with transaction.atomic():
        dead = list(
            OutboxEntry.objects.select_for_update(of=("self",))
            .filter(pk__in=[e.pk for e in entries], status=OutboxStatus.DEAD)
            .select_related("listing", "channel")
        )
        for entry in dead:
            entry.status = OutboxStatus.DISCARDED
            entry.save(update_fields=["status"])
            ChannelAudit.objects.create(
                kind=ChannelAuditKind.DISCARD,
                channel=entry.channel,
                sku_id=entry.listing.sku_id,
                outbox_entry=entry,
                actor=actor if actor is not None and actor.is_authenticated else None,
                message="discarded from the DLQ",
            )
    return len(dead)
