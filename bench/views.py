"""Baseline views for the benchmarks. Routed only when the server runs with BENCH_ROUTES=1.

`POST /bench/hmac-only/?channel=<slug>`: the least a Shopify webhook endpoint can do on
the same server. It looks the channel up and checks `X-Shopify-Hmac-Sha256` against the
channel's secrets with `channels.webhooks.verify.verify_shopify` (which also reads the
topic and event-id headers and parses the JSON body), then answers 200. It stores
nothing and publishes nothing. `bench.ingest` measures the real intake view
(`POST /webhooks/<slug>/`) against it: the difference is the inbox INSERT, its commit,
the Celery publish and the canonical-event parse.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.models import Channel, ChannelKind
from channels.webhooks.verify import WebhookRejected, verify_shopify
from foundation.errors import error_body


class HmacOnlyView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def post(self, request: Request) -> Response:
        slug = request.query_params.get("channel", "")
        # The same lookup the intake view makes: the secrets live on the channel row.
        channel = Channel.objects.filter(slug=slug, kind=ChannelKind.SHOPIFY).first()
        if channel is None:
            return Response(
                error_body("unknown_channel", f"No Shopify channel {slug!r} here."), status=404
            )
        try:
            verify_shopify(
                body=request.body,
                headers=request.headers,
                method=request.method,
                query=request.GET,
                secrets=[s for s in (channel.webhook_secret, channel.previous_webhook_secret) if s],
                settings={},
                now=timezone.now(),
            )
        except WebhookRejected as exc:
            return Response(error_body("rejected", str(exc)), status=exc.status_code)
        return Response({"status": "verified"})
