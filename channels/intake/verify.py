"""Which secrets and settings verify a channel's delivery, and the call that checks it.

The signature checks themselves are pure (`channels.webhooks.verify`); this module knows
where a channel keeps what they need: the webhook secret and the previous one (kept
during a rotation), the kind's settings, and the options that are secrets, which live in
the encrypted credentials.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from ..models import Channel
from ..webhooks.verify import Delivery, verify_delivery


def delivery_verify(
    channel: Channel,
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str = "POST",
    query: Mapping[str, str] | None = None,
) -> Delivery:
    """Verify one delivery to `channel` with its current and previous secrets; raises
    `WebhookRejected` (401, 400 or 503) when it does not hold."""
    return verify_delivery(
        channel.kind,
        body=body,
        headers=headers,
        method=method,
        query=query or {},
        secrets=[s for s in (channel.webhook_secret, channel.previous_webhook_secret) if s],
        settings={**channel.settings, **_secret_settings(channel)},
        now=timezone.now(),
    )


def _secret_settings(channel: Channel) -> dict:
    """Kind options that are secrets live in the encrypted credentials."""
    credentials = channel.credentials or {}
    keys = ("verification_token", "application_token", "endpoint_url")
    secret = {key: credentials[key] for key in keys if key in credentials}
    if (
        channel.kind == "ebay"
        and "application_token" not in secret
        and credentials.get("access_token")
    ):
        # eBay's public-key lookup wants an OAuth token; without a separate application
        # token, the channel's own access token is the one we have.
        secret["application_token"] = credentials["access_token"]
    return secret
