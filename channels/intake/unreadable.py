"""Verified deliveries the hub cannot read: stored, answered 200, parked for a person.

A delivery whose signature holds and whose body is JSON is the channel's word, even when
its topic is one the hub does not know or its fields are missing or unexpected. Refusing
it (400) makes the sender retry and then switch the endpoint off (WooCommerce after five
failures in a row), and every later sale would be lost with it. So it is stored under
the status "unreadable" with the reason in its `error`, never applied to stock, shown
beside the orders in the dashboard, counted in /metrics and named in the digest; a person
marks it handled, or runs it again once the hub can read it.

Still refused (400), on purpose: a body that is not JSON at all, a body that contradicts
its unsigned topic (`TopicMismatch`, a replay defence), and strings the database cannot
store (NUL, lone surrogates).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from foundation.errors import Conflict

from ..models import InboundEvent, InboundStatus
from ..webhooks import _fields
from ..webhooks.errors import MalformedDelivery, TopicMismatch
from ..webhooks.events import CanonicalEvent
from ..webhooks.parse import parse_events
from ..webhooks.verify import Delivery, make_dedupe_key
from .accept import storable_reason
from .wake import processing_wanted

# The topics each kind's sender may use that the hub knows: those it reads, and those it
# knows move no stock (a delivery of one of these is processed and carries nothing). Any
# other topic is unreadable: the hub cannot tell whether it should have moved stock.
KNOWN_TOPICS: dict[str, frozenset[str]] = {
    "shopify": frozenset(
        {
            "orders/create",
            "orders/updated",
            "orders/cancelled",
            "orders/fulfilled",
            "orders/paid",
            "orders/partially_fulfilled",
            "orders/edited",
            "orders/delete",
            "refunds/create",
            "inventory_levels/update",
            "inventory_levels/connect",
            "inventory_levels/disconnect",
            "inventory_items/create",
            "inventory_items/update",
            "inventory_items/delete",
            "products/create",
            "products/update",
            "products/delete",
            "app/uninstalled",
        }
    ),
    "woocommerce": frozenset(
        {
            "order.created",
            "order.updated",
            "order.deleted",
            "order.restored",
            "product.created",
            "product.updated",
            "product.deleted",
            "product.restored",
        }
    ),
    "standard": frozenset(
        {"order.created", "order.cancelled", "order.fulfilled", "order.refunded", "inventory.level"}
    ),
    "ebay": frozenset(
        {
            "ORDER_CONFIRMATION",
            "ITEM_MARKED_SHIPPED",
            "ITEM_AVAILABILITY",
            "MARKETPLACE_ACCOUNT_DELETION",
        }
    ),
    "amazon": frozenset(
        {
            "ORDER_CHANGE",
            "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "LISTINGS_ITEM_STATUS_CHANGE",
            "LISTINGS_ITEM_ISSUES_CHANGE",
            "ANY_OFFER_CHANGED",
            "FBA_INVENTORY_AVAILABILITY_CHANGES",
            "FEED_PROCESSING_FINISHED",
            "REPORT_PROCESSING_FINISHED",
        }
    ),
}
KNOWN_TOPICS["sandbox"] = KNOWN_TOPICS["standard"]

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_UNSTORABLE_WORDS = "the body holds a NUL character or a lone surrogate, which cannot be stored"


class Unreadable(Exception):
    """A verified delivery the hub cannot read; `reason` says why, in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableNotWaiting(Conflict):
    code = "not_unreadable"


def delivery_read(kind: str, topic: str, payload: Any) -> list[CanonicalEvent]:
    """The canonical events of a verified delivery. Raises Unreadable for an unknown
    topic or a body missing what the topic needs; TopicMismatch and what the database
    cannot store stay refusals (MalformedDelivery)."""
    if topic not in KNOWN_TOPICS.get(kind, ()):
        raise Unreadable(
            f"unknown topic {topic!r}: the hub does not know what this delivery means"
            if topic
            else "the delivery names no topic"
        )
    try:
        return parse_events(kind, topic, payload)
    except TopicMismatch:
        raise
    except MalformedDelivery as exc:
        if _holds_unstorable(payload):
            raise MalformedDelivery(f"{_UNSTORABLE_WORDS} ({exc})") from None
        raise Unreadable(str(exc)) from None


def delivery_parked(*, refusal: MalformedDelivery, body: bytes, method: str) -> Delivery:
    """A verifier refused a POST as malformed after its signature matched (each verifier
    checks the signature first; tests/channels/test_intake_unreadable.py holds them to
    it): when the body is JSON it is parked under a key made from the body itself, so a
    redelivery finds it. Raises `refusal` again for anything else."""
    if isinstance(refusal, TopicMismatch) or method.upper() != "POST":
        raise refusal
    try:
        payload = _fields.parse_json(body, source="the")
    except MalformedDelivery:
        raise refusal from None
    if _holds_unstorable(payload):
        raise MalformedDelivery(f"{_UNSTORABLE_WORDS} ({refusal})")
    return Delivery(
        dedupe_key=make_dedupe_key("unreadable", hashlib.sha256(body).hexdigest()),
        topic="",
        source_timestamp=None,
        payload=payload,
    )


def _holds_unstorable(value: Any) -> bool:
    """Does any string of the document (keys included) hold what PostgreSQL text cannot?"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# --- what a person does with one ------------------------------------------------------


def _waiting(event_id: int) -> InboundEvent:
    event = (
        InboundEvent.objects.select_for_update()
        .select_related("channel")
        .filter(pk=event_id, status=InboundStatus.UNREADABLE)
        .first()
    )
    if event is None:
        raise UnreadableNotWaiting(f"Delivery {event_id} is not an unreadable delivery waiting.")
    return event


@transaction.atomic
def unreadable_handle(*, event_id: int, actor: AbstractBaseUser | None) -> InboundEvent:
    """A person looked at an unreadable delivery and set it aside: it stays unapplied."""
    event = _waiting(event_id)
    now = timezone.now()
    who = actor.get_username() if actor is not None else "the system"
    event.status = InboundStatus.HANDLED
    event.processed_at = now
    event.error = storable_reason(
        f"{event.error}\nMarked handled by {who} at {now.isoformat(timespec='seconds')}."
    )
    event.save(update_fields=["status", "processed_at", "error"])
    return event


@transaction.atomic
def unreadable_retry(*, event_id: int, actor: AbstractBaseUser | None) -> InboundEvent:
    """Read an unreadable delivery again (after a fix of the hub): readable now, it goes
    back to the inbox and the intake worker applies it as any other; still unreadable,
    it stays parked with the reason as it is now."""
    event = _waiting(event_id)
    try:
        delivery_read(event.channel.kind, event.topic, json.loads(event.body))
    except (Unreadable, MalformedDelivery, ValueError) as exc:
        event.error = storable_reason(getattr(exc, "reason", None) or str(exc))
        event.save(update_fields=["error"])
        return event
    event.status, event.error, event.attempts = InboundStatus.RECEIVED, "", 0
    event.next_attempt_at = None
    event.save(update_fields=["status", "error", "attempts", "next_attempt_at"])
    transaction.on_commit(processing_wanted)
    return event
