"""Simulated custom storefront (kinds ``standard`` and ``sandbox``): Standard Webhooks.

API below ``<sim>/<kind>/<store>``:

* ``POST /inventory``: the hub's push, a Standard-Webhooks-signed
  ``{"type": "inventory.level.updated", "data": {"levels": [{"sku", "quantity"}]}}``.
  The signature is checked with the store's secret (``push_secret``, default the
  ``webhook_secret``); a ``webhook-id`` seen before is answered again without re-applying.
* ``GET /inventory?sku=a&sku=b``: ``{"levels": {"a": 3}}`` (all SKUs without ``sku``),
  signed the same way over an empty body.

Outgoing events follow the hub's inbound contract for kind ``standard`` (see
:mod:`channels.webhooks.parse`): ``order.created`` /
``order.cancelled`` / ``order.fulfilled`` / ``order.refunded`` with ``data.order_id`` and
``data.lines[{sku, quantity, restock}]``, and ``inventory.level`` with ``data.sku`` and
``data.quantity``. Redeliveries keep their ``webhook-id`` and are signed with a fresh
timestamp.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from channels.webhooks.signing import (
    b64,
    make_standard_secret,
    sign_standard,
    standard_secret_key,
    standard_signature,
)
from simulator.http import Request, Response, json_response
from simulator.kinds.base import (
    Call,
    Delivery,
    Event,
    KindApi,
    Route,
    compact_json,
    require_order,
)
from simulator.state import Store

PUSH_TYPE = "inventory.level.updated"
# The reference library's replay window.
TIMESTAMP_TOLERANCE = 5 * 60


def _verify(store: Store, request: Request) -> Response | None:
    """Check the Standard Webhooks signature of a call from the hub (push or read).

    Done by hand rather than with ``standardwebhooks.Webhook.verify``, which also parses
    the body as JSON and so refuses the empty body of a signed GET.
    """
    secret = store.credentials.get("push_secret") or store.webhook_secret
    msg_id = request.header("webhook-id")
    timestamp = request.header("webhook-timestamp")
    signatures = request.header("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return _unauthorized("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return _unauthorized("webhook-timestamp is not an integer")
    if abs(time.time() - sent_at) > TIMESTAMP_TOLERANCE:
        return _unauthorized("webhook-timestamp is outside the tolerance")
    expected = b64(
        standard_signature(
            standard_secret_key(secret), msg_id=msg_id, timestamp=sent_at, body=request.body
        )
    )
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return None
    return _unauthorized("no matching signature")


def _unauthorized(message: str) -> Response:
    return json_response(401, {"error": "invalid_signature", "message": message})


def _push(store: Store, request: Request, call: Call) -> Response:
    message = request.json()
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        message = {}
    levels = message.get("data", {}).get("levels")
    if message.get("type") != PUSH_TYPE or not isinstance(levels, list):
        return json_response(
            400,
            {"error": "bad_request", "message": f"expected a {PUSH_TYPE} with data.levels"},
        )
    parsed: list[tuple[str, int]] = []
    for level in levels:
        sku, quantity = (
            (level.get("sku"), level.get("quantity")) if isinstance(level, dict) else (None, None)
        )
        if not isinstance(sku, str) or not sku or not isinstance(quantity, int):
            return json_response(
                400, {"error": "bad_request", "message": f"bad level entry {level!r}"}
            )
        parsed.append((sku, quantity))
    call.items = len(parsed)
    message_id = request.header("webhook-id")
    with store.lock:
        if message_id in store.seen:
            return json_response(200, {"received": len(parsed), "duplicate": True})
        if call.drop_writes:
            # Lost entirely, message id included, so the hub's retry gets applied.
            store.stats.writes_dropped += 1
        else:
            store.seen[message_id] = True
            for sku, quantity in parsed:
                store.set_level(sku, quantity)
    return json_response(200, {"received": len(parsed)})


def _read(store: Store, request: Request, call: Call) -> Response:
    wanted = request.params("sku")
    with store.lock:
        levels = store.listing_levels()
    if wanted:
        levels = {sku: levels[sku] for sku in wanted if sku in levels}
    return json_response(200, {"levels": levels})


class StandardApi(KindApi):
    kind = "standard"
    routes = (
        Route("POST", ("inventory",), _push, "write"),
        Route("GET", ("inventory",), _read, "read"),
    )

    def authenticate(self, store: Store, request: Request) -> Response | None:
        return _verify(store, request)

    def error(self, status: int, message: str, code: str = "") -> Response:
        return json_response(status, {"error": code or f"http_{status}", "message": message})

    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        return {
            "settings": {"base_url": base_url, "push_url": f"{base_url}/inventory"},
            "credentials": {"webhook_secret": store.webhook_secret},
        }

    def validate_secret(self, secret: str) -> None:
        if not secret.startswith("whsec_"):
            raise ValueError("a Standard Webhooks secret starts with 'whsec_'")
        standard_secret_key(secret)

    def make_secret(self) -> str:
        return make_standard_secret()

    def order_id(self, store: Store, number: int) -> str:
        return f"SO-{number}"

    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        if event.type == "inventory.level":
            data: dict[str, Any] = {"sku": event.sku, "quantity": event.quantity}
            order_id = ""
        else:
            order_id = require_order(event).order_id
            data = {
                "order_id": order_id,
                "lines": [
                    {"sku": line.sku, "quantity": line.quantity, "restock": event.restock}
                    for line in event.lines
                ],
            }
        message = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
        return [_signed_delivery(store, event.type, message, order_id)]

    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        return _signed_delivery(store, topic, payload, "")


class SandboxApi(StandardApi):
    kind = "sandbox"


def _signed_delivery(store: Store, topic: str, message: Any, order_id: str) -> Delivery:
    """One Standard Webhooks message; every attempt keeps the id and gets a new timestamp."""
    message_id = f"msg_{uuid.uuid4().hex}"
    body = compact_json(message)

    def render(attempt: int) -> tuple[bytes, dict[str, str]]:
        headers = sign_standard(
            body, store.webhook_secret, msg_id=message_id, timestamp=int(time.time())
        )
        return body, {**headers, "Content-Type": "application/json"}

    return Delivery(event_id=message_id, topic=topic, order_id=order_id, render=render)
