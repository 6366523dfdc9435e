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
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.errors import error_body
from inventory_hub.metrics import UNKNOWN_CHANNEL, WEBHOOKS
from inventory_hub.permissions import PUBLIC

from ..models import Channel
from ..webhooks.parse import parse_events
from ..webhooks.verify import WebhookRejected
from .inbox import inbox_accept
from .verify import delivery_verify

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
        channel = Channel.objects.filter(slug=slug).first()
        if channel is None:
            return _refuse(UNKNOWN_CHANNEL, "unknown_channel", f"No channel {slug!r} here.", 404)
        if not channel.enabled:
            # 404, not 410: Standard Webhooks senders permanently disable an endpoint
            # that answers 410, and a paused channel should come back without that.
            return _refuse(slug, "channel_disabled", f"Channel {slug!r} is disabled.", 404)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _refuse(slug, "too_large", "Webhook bodies are limited to 1 MiB.", 413)
        try:
            body = request.body
        except RequestDataTooBig:
            return _refuse(slug, "too_large", "Webhook bodies are limited to 1 MiB.", 413)
        if len(body) > MAX_BODY:
            return _refuse(slug, "too_large", "Webhook bodies are limited to 1 MiB.", 413)
        try:
            delivery = delivery_verify(
                channel,
                body=body,
                headers=request.headers,
                method=request.method,
                query=request.GET,
            )
            if delivery.challenge_response is not None:
                WEBHOOKS.labels(channel=slug, outcome="challenge").inc()
                return Response(delivery.challenge_response)
            if delivery.ping:
                WEBHOOKS.labels(channel=slug, outcome="ping").inc()
                return Response({"status": "ok", "message": "ping acknowledged"})
            parse_events(channel.kind, delivery.topic, delivery.payload)
            event, created = inbox_accept(channel=channel, delivery=delivery, body=body)
        except WebhookRejected as exc:
            code = {401: "invalid_signature", 400: "malformed", 503: "unavailable"}.get(
                exc.status_code, "rejected"
            )
            return _refuse(slug, code, str(exc), exc.status_code)
        WEBHOOKS.labels(channel=slug, outcome="accepted" if created else "duplicate").inc()
        return Response(
            {"status": "accepted" if created else "duplicate", "event_id": event.pk},
            status=status.HTTP_200_OK,
        )
