"""POST /webhooks/<slug>/: verify, check, store, answer — in milliseconds.

Nothing here touches stock: the delivery is verified and parsed (so a malformed one is
refused now, while the sender still listens), stored in the inbox, and processed by a
worker. Every answer is JSON; every outcome is counted in /metrics.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from foundation.errors import error_body
from foundation.metrics import UNKNOWN_CHANNEL, WEBHOOKS
from foundation.permissions import PUBLIC

from ..webhooks.errors import TopicMismatch
from ..webhooks.parse import parse_events
from ..webhooks.verify import WebhookRejected
from .accept import inbox_accept
from .verify import delivery_verify, intake_channel

MAX_BODY = 1024 * 1024


def _refuse(label: str, code: str, message: str, http_status: int) -> Response:
    """Count the refusal under `label` (the slug of a channel that exists) and answer."""
    WEBHOOKS.labels(channel=label, outcome=str(http_status)).inc()
    return Response(error_body(code, message), status=http_status)


class WebhookIntakeView(APIView):
    # Channels call this URL: the signature is the credential (checked per kind).
    required_permissions = PUBLIC
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]  # channels read JSON: no content negotiation

    @extend_schema(
        summary="eBay endpoint validation (GET ?challenge_code=...)",
        request=None,
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        # eBay validates an endpoint with GET ?challenge_code=...
        return self.post(request, slug)

    @extend_schema(
        summary="Receive a signed channel webhook",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        channel = intake_channel(slug)
        if channel is None:
            return _refuse(UNKNOWN_CHANNEL, "unknown_channel", f"No channel {slug!r} here.", 404)
        if not channel.enabled:
            # 404, not 410: Standard Webhooks senders permanently disable an endpoint
            # that answers 410, and a paused channel should come back without that.
            return _refuse(slug, "channel_disabled", f"Channel {slug!r} is disabled.", 404)
        body = _body(request)
        if body is None:
            return _refuse(slug, "too_large", "Webhook bodies are limited to 1 MiB.", 413)
        try:
            delivery = delivery_verify(
                channel,
                body=body,
                headers=request.headers,
                method=request.method,
                query=request.GET,
            )
            if delivery.challenge_response is not None or delivery.ping:
                return _acknowledge(slug, delivery)
            parse_events(channel.kind, delivery.topic, delivery.payload)
            event_id, created = inbox_accept(channel_id=channel.pk, delivery=delivery, body=body)
        except WebhookRejected as exc:
            return _refuse(slug, _error_code(exc), str(exc), exc.status_code)
        outcome = "accepted" if created else "duplicate"
        WEBHOOKS.labels(channel=slug, outcome=outcome).inc()
        return Response({"status": outcome, "event_id": event_id}, status=status.HTTP_200_OK)


def _body(request: Request) -> bytes | None:
    """The body, or None when it is over the limit (announced or actual)."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= MAX_BODY else None


def _acknowledge(slug: str, delivery) -> Response:
    """eBay's endpoint challenge, or a channel's ping: answered, nothing stored."""
    if delivery.challenge_response is not None:
        WEBHOOKS.labels(channel=slug, outcome="challenge").inc()
        return Response(delivery.challenge_response)
    WEBHOOKS.labels(channel=slug, outcome="ping").inc()
    return Response({"status": "ok", "message": "ping acknowledged"})


def _error_code(exc: WebhookRejected) -> str:
    if isinstance(exc, TopicMismatch):
        return "topic_mismatch"
    return {401: "invalid_signature", 400: "malformed", 503: "unavailable"}.get(
        exc.status_code, "rejected"
    )
