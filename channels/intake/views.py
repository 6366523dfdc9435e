"""POST /webhooks/<slug>/: verify, check, store, answer — in milliseconds.

Nothing here touches stock: the delivery is verified and parsed, stored in the inbox,
and processed by a worker. A verified JSON delivery the hub cannot read (an unknown
topic, missing fields) is stored too, as "unreadable" for a person, and answered 200: a
sender that keeps being refused disables the endpoint (`unreadable.py`). Every answer is
JSON; every outcome is counted in /metrics.

A plain Django view, not a DRF one: a channel needs no content negotiation, parsers,
authentication classes or browsable renderer, and in a webhook storm each of those is
paid for every delivery. (The pages' middleware is skipped too: foundation/middleware.py.)
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from foundation.errors import error_body
from foundation.metrics import UNKNOWN_CHANNEL, UNREADABLE, WEBHOOKS
from foundation.permissions import PUBLIC

from ..webhooks.errors import MalformedDelivery, TopicMismatch
from ..webhooks.verify import Delivery, WebhookRejected
from .accept import ChannelChanged, inbox_accept
from .unreadable import Unreadable, delivery_parked, delivery_read
from .verify import IntakeChannel, delivery_verify, intake_channel

MAX_BODY = 1024 * 1024


@csrf_exempt  # the signature is the credential (checked per kind)
def webhook_intake(request: HttpRequest, slug: str) -> JsonResponse:
    """POST a delivery; GET answers eBay's endpoint challenge (?challenge_code=...)."""
    if request.method not in ("GET", "POST"):
        # Not counted: the slug is not known to be a channel's (a metric label per guess).
        answer = JsonResponse(
            error_body("method_not_allowed", "Webhooks are POSTed here."), status=405
        )
        answer["Allow"] = "GET, POST"
        return answer
    # No "SELECT 1" health check before the first statement (a round trip per delivery):
    # the statement is the check, and a connection that died (a database restart) is
    # replaced and the delivery tried once more. A retry after a commit whose answer was
    # lost finds its row: a duplicate, stored once.
    connection.health_check_done = True
    try:
        return _receive_current(request, slug)
    except (OperationalError, InterfaceError):
        connection.close()
        return _receive_current(request, slug)


# Channels call this URL: open to anyone, the signature decides.
webhook_intake.required_permissions = PUBLIC


def _receive_current(request: HttpRequest, slug: str) -> JsonResponse:
    # This process's copy of the channel first; the INSERT confirms it is current.
    # eBay's endpoint challenge (a GET, rare) is answered with the token as it is now.
    response = _receive(request, slug, intake_channel(slug, fresh=request.method == "GET"))
    if response is None:  # the copy was out of date: once more, as the channel is now
        response = _receive(request, slug, intake_channel(slug, fresh=True))
    return response or _refuse(
        slug, "unavailable", "The channel changed while this delivery arrived.", 503
    )


def _receive(request: HttpRequest, slug: str, channel: IntakeChannel | None):
    """Verify, check and store one delivery; None when `channel` turned out stale."""
    if channel is None:
        return _refuse(UNKNOWN_CHANNEL, "unknown_channel", f"No channel {slug!r} here.", 404)
    if not channel.enabled:
        # 404, not 410: Standard Webhooks senders permanently disable an endpoint that
        # answers 410, and a paused channel should come back without that.
        return _refuse(slug, "channel_disabled", f"Channel {slug!r} is disabled.", 404)
    body = _body(request)
    if body is None:
        return _refuse(slug, "too_large", "Webhook bodies are limited to 1 MiB.", 413)
    unreadable = ""
    try:
        try:
            delivery = delivery_verify(
                channel,
                body=body,
                headers=_headers(request.META),
                method=request.method,
                query=request.GET,
            )
        except MalformedDelivery as exc:
            # Signed, but the verifier could not find its ids or topic in it: parked
            # when the body is JSON, refused otherwise.
            delivery = delivery_parked(refusal=exc, body=body, method=request.method)
            unreadable = str(exc)
        else:
            if delivery.challenge_response is not None or delivery.ping:
                return _acknowledge(slug, delivery)
            try:
                delivery_read(channel.kind, delivery.topic, delivery.payload)
            except Unreadable as exc:
                unreadable = exc.reason
        event_id, created = inbox_accept(
            channel_id=channel.pk,
            channel_updated_at=channel.updated_at,
            delivery=delivery,
            body=body,
            unreadable=unreadable,
        )
    except ChannelChanged:
        return None
    except WebhookRejected as exc:
        if exc.status_code in (401, 503) and not channel.fresh:
            # Perhaps a secret (401) or the token eBay's key service wants (503) changed
            # since this process read the channel.
            return None
        return _refuse(slug, _error_code(exc), str(exc), exc.status_code)
    if unreadable and created:
        UNREADABLE.labels(kind=channel.kind).inc()
        WEBHOOKS.labels(channel=slug, outcome="unreadable").inc()
        return JsonResponse({"status": "unreadable", "event_id": event_id, "reason": unreadable})
    outcome = "accepted" if created else "duplicate"
    WEBHOOKS.labels(channel=slug, outcome=outcome).inc()
    return JsonResponse({"status": outcome, "event_id": event_id})


def _refuse(label: str, code: str, message: str, http_status: int) -> JsonResponse:
    """Count the refusal under `label` (the slug of a channel that exists) and answer."""
    WEBHOOKS.labels(channel=label, outcome=str(http_status)).inc()
    return JsonResponse(error_body(code, message), status=http_status)


def _body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is over the limit (announced or actual)."""
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
            return None
        body = request.body
    except (RequestDataTooBig, ValueError):
        return None
    return body if len(body) <= MAX_BODY else None


def _headers(meta: dict) -> dict[str, str]:
    """The request's headers by lower-case name, read once from the WSGI environ (what
    `request.headers` does, without its case-insensitive wrapper)."""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in meta.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if meta.get(name):
            headers[name.replace("_", "-").lower()] = meta[name]
    return headers


def _acknowledge(slug: str, delivery: Delivery) -> JsonResponse:
    """eBay's endpoint challenge, or a channel's ping: answered, nothing stored."""
    if delivery.challenge_response is not None:
        WEBHOOKS.labels(channel=slug, outcome="challenge").inc()
        return JsonResponse(delivery.challenge_response)
    WEBHOOKS.labels(channel=slug, outcome="ping").inc()
    return JsonResponse({"status": "ok", "message": "ping acknowledged"})


def _error_code(exc: WebhookRejected) -> str:
    if isinstance(exc, TopicMismatch):
        return "topic_mismatch"
    return {401: "invalid_signature", 400: "malformed", 503: "unavailable"}.get(
        exc.status_code, "rejected"
    )
