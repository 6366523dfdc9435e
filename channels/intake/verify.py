"""Which channel a delivery is for, with what it is verified, and the call that checks it.

The signature checks themselves are pure (`channels.webhooks.verify`); this module knows
where a channel keeps what they need: the webhook secret and the previous one (kept
during a rotation), the kind's settings, and the options that are secrets, which live in
the encrypted credentials.

A webhook storm asks for the same few channels thousands of times a second, and
decrypting their secrets was a third of a delivery's cost. Each process keeps what it
decrypted per enabled channel, with the channel's `updated_at`, and trusts it only as far
as the inbox INSERT confirms: that statement stores the delivery only if the channel
still has that `updated_at` and is enabled (`accept.inbox_accept`). When it does not (a
rotated secret, a disabled or deleted channel), or when a cached secret does not verify,
the delivery is verified again against the channel as it is now. So the steady state
costs one round trip to the database, and a change applies to the very next delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from ..models import Channel
from ..webhooks.verify import Delivery, verify_delivery


@dataclass(frozen=True)
class IntakeChannel:
    """What the intake needs of a channel, its secrets decrypted once."""

    pk: int
    slug: str
    kind: str
    enabled: bool
    updated_at: datetime
    secrets: tuple[str, ...]
    settings: Mapping[str, Any]
    # Read from the database for this delivery (False: this process's copy, which the
    # inbox INSERT confirms or refuses).
    fresh: bool = True


_known: dict[str, IntakeChannel] = {}
_known_lock = threading.Lock()


def intake_channel(slug: str, *, fresh: bool = False) -> IntakeChannel | None:
    """The channel with this slug, or None. An enabled channel this process has seen
    comes from its cache without a query (`fresh=False` on it); otherwise one indexed
    query, and the secrets are decrypted again only when `updated_at` moved."""
    known = _known.get(slug)
    if not fresh and known is not None and known.enabled:
        return replace(known, fresh=False)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, updated_at FROM {Channel._meta.db_table} WHERE slug = %s", [slug]
        )
        row = cursor.fetchone()
    if row is None:
        _known.pop(slug, None)
        return None
    pk, updated_at = row
    if connection.vendor == "sqlite" and isinstance(updated_at, str):
        updated_at = Channel._meta.get_field("updated_at").to_python(updated_at)
    if known is not None and known.pk == pk and known.updated_at == updated_at:
        return known
    channel = Channel.objects.filter(pk=pk).first()
    if channel is None:
        return None
    known = IntakeChannel(
        pk=channel.pk,
        slug=channel.slug,
        kind=channel.kind,
        enabled=channel.enabled,
        updated_at=channel.updated_at,
        secrets=tuple(s for s in (channel.webhook_secret, channel.previous_webhook_secret) if s),
        settings={**channel.settings, **_secret_settings(channel)},
    )
    with _known_lock:
        _known[slug] = known
    return known


def delivery_verify(
    channel: IntakeChannel,
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
        secrets=list(channel.secrets),
        settings=channel.settings,
        now=timezone.now(),
    )


def _secret_settings(channel: Channel) -> dict:
    """Kind options that are secrets live in the encrypted credentials."""
    credentials = channel.credentials or {}
    keys = ("verification_token", "application_token", "endpoint_url")
    secret = {key: credentials[key] for key in keys if key in credentials}
    if channel.kind == "ebay" and "application_token" not in secret:
        if credentials.get("client_id") and credentials.get("client_secret"):
            # eBay's public-key lookup wants an application token: the verifier mints
            # one from the app's keys (client-credentials grant), never the seller's.
            secret["client_id"] = credentials["client_id"]
            secret["client_secret"] = credentials["client_secret"]
        elif credentials.get("access_token"):
            # A channel set up with a bare access token has no app keys to mint with:
            # that token is the only one there is.
            secret["application_token"] = credentials["access_token"]
    return secret
