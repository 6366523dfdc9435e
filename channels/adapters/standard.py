"""A custom storefront speaking Standard Webhooks in both directions.

* Push: a signed POST (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) to
  ``settings["push_url"]`` (default ``{base_url}/inventory``) with::

      {"type": "inventory.level.updated", "timestamp": "<ISO-8601>",
       "data": {"levels": [{"sku": "A-1", "quantity": 4}, ...]}}

  The ``webhook-id`` is derived from the entries' idempotency keys, so a retry of the same
  batch carries the same id and the storefront can drop the duplicate. Any 2xx accepts the
  whole batch; 410 (the Standard Webhooks "disable this endpoint") is a rejection.
* Read: ``GET {base_url}/inventory?sku=a&sku=b`` answering ``{"levels": {"a": 3}}``; a SKU
  missing from ``levels`` is not listed. The GET carries the same three headers, signed
  over an empty body, so the storefront can authenticate the caller with the same secret.

Credentials: ``webhook_secret`` (or ``push_secret``), a ``whsec_`` secret.
Settings: optional ``push_url``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from channels.adapters.base import (
    ChannelAdapter,
    ChannelRejected,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
)
from channels.webhooks.signing import sign_standard

PUSH_EVENT_TYPE = "inventory.level.updated"
READ_CHUNK = 100


def message_id_for(pushes: Sequence[LevelPush]) -> str:
    """The webhook-id of a push: the same for a resend of the same entries and
    quantities (so the storefront can drop the duplicate), never containing '.'."""
    material = sorted(f"{push.key}|{push.quantity}" for push in pushes)
    digest = hashlib.sha256("\n".join(material).encode()).hexdigest()
    return f"msg_{digest[:32]}"


class StandardAdapter(ChannelAdapter):
    kind = "standard"
    max_batch = 100
    rate_per_second = 10.0
    burst = 20

    @property
    def push_url(self) -> str:
        return str(self.settings.get("push_url") or f"{self.base_url}/inventory")

    @property
    def _secret(self) -> str:
        secret = self.credentials.get("webhook_secret") or self.credentials.get("push_secret")
        if not secret:
            raise ChannelRejected(f"{self.kind}: credentials have no webhook_secret")
        return str(secret)

    def _signed_headers(self, body: bytes, msg_id: str) -> dict[str, str]:
        try:
            headers = sign_standard(body, self._secret, msg_id=msg_id, timestamp=int(time.time()))
        except ValueError as exc:
            raise ChannelRejected(f"{self.kind}: {exc}") from exc
        return {**headers, "Content-Type": "application/json"}

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        if not pushes:
            return []
        payload = {
            "type": PUSH_EVENT_TYPE,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"levels": [{"sku": p.ref.sku, "quantity": p.quantity} for p in pushes]},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = self._signed_headers(body, message_id_for(pushes))
        self._send("POST", self.push_url, content=body, headers=headers)
        return [PushOutcome(ref=p.ref, status="accepted") for p in pushes]

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        skus = list(dict.fromkeys(ref.sku for ref in refs))
        levels: dict[str, int | None] = dict.fromkeys(skus)
        for chunk in chunked(skus, READ_CHUNK):
            response = self._send(
                "GET",
                f"{self.base_url}/inventory",
                params=[("sku", sku) for sku in chunk],
                headers=self._signed_headers(b"", f"msg_{uuid.uuid4().hex}"),
            )
            answered = self._json(response)
            known = answered.get("levels") if isinstance(answered, dict) else None
            if not isinstance(known, dict):
                raise ChannelUnavailable(f"{self.kind}: inventory answer without 'levels'")
            for sku in chunk:
                quantity = known.get(sku)
                levels[sku] = int(quantity) if quantity is not None else None
        return levels

    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        levels = self.read_levels([ListingRef(sku=sku) for sku in skus])
        return {sku: ListingRef(sku=sku) for sku, level in levels.items() if level is not None}
