"""Webhook intake, the pure part: verify a delivery, then parse it into canonical events.

    delivery = verify_delivery(kind, body=..., headers=..., method=..., query=...,
                               secrets=[current, *previous], settings=..., now=...)
    events = parse_events(kind, delivery.topic, delivery.payload)

The view maps every WebhookRejected to ``exc.status_code`` (401 SignatureInvalid,
400 MalformedDelivery and its TopicMismatch, 503 VerificationUnavailable). topics.py
holds what a body must show to be believed under its topic; signing.py is the sender's
side.
"""

from .errors import (
    MalformedDelivery,
    SignatureInvalid,
    TopicMismatch,
    VerificationUnavailable,
    WebhookRejected,
)
from .events import CanonicalEvent, LevelReported, OrderEvent, OrderLine
from .parse import parse_amazon_notification, parse_events
from .verify import Delivery, verify_delivery

__all__ = [
    "CanonicalEvent",
    "Delivery",
    "LevelReported",
    "MalformedDelivery",
    "OrderEvent",
    "OrderLine",
    "SignatureInvalid",
    "TopicMismatch",
    "VerificationUnavailable",
    "WebhookRejected",
    "parse_amazon_notification",
    "parse_events",
    "verify_delivery",
]
