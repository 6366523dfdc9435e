"""Simulated eBay seller: the Sell Inventory API subset the hub uses, and notifications.

API below ``<sim>/ebay/<store>`` (``Authorization: Bearer <token>``):

* ``POST sell/inventory/v1/bulk_update_price_quantity``: up to 25 ``requests`` of
  ``{sku, shipToLocationAvailability: {quantity}, offers: [{offerId, availableQuantity}]}``;
  answers 200, or 207 when some entries failed, with one ``responses[]`` entry per offer
  (per SKU when no offer is given). The item and the offer keep separate quantities and a
  buyer sees the smaller, so an adapter that forgets either is caught.
* ``POST sell/inventory/v1/bulk_get_inventory_item``: up to 25 ``requests`` of ``{sku}``
  (``Content-Type: application/json``, else 415); answers 200, or 207 when some SKUs are
  unknown, with one ``responses[]`` entry per SKU: ``{statusCode: 200, sku, inventoryItem}``
  or ``{statusCode: 404, sku, errors}``. One read against the store's rate limit, however
  many SKUs it carries.
* ``GET sell/inventory/v1/inventory_item/<sku>`` and ``GET sell/inventory/v1/offer?sku=``
  (each offer with its ``status``: PUBLISHED, or UNPUBLISHED for the store's
  ``unpublished`` SKUs; a SKU longer than eBay's 50 characters answers 400, errorId
  25707). bulkUpdatePriceQuantity refuses an unpublished offer (400 for that offer).
* ``GET sell/fulfillment/v1/order/<orderId>`` (getOrder): the order's ``lineItems``
  (``lineItemId``, ``sku``, ``quantity``); 404 for an order the store never sold.
* ``POST identity/v1/oauth2/token``: the OAuth token endpoint (Basic client id:secret,
  form-encoded), ``refresh_token`` grant (a refresh token other than the store's answers
  400 ``invalid_grant``) and ``client_credentials`` grant (an application token, good
  only for public keys). With ``token_lifetime_seconds`` its tokens expire and an
  expired one answers 401, as eBay's two-hour user tokens do.
* ``GET commerce/notification/v1/public_key/<kid>``: the store's ECDSA public key,
  ``{"key": "-----BEGIN PUBLIC KEY-----...", "algorithm": "ECDSA", "digest": "SHA1"}``
  (PEM without newlines, as eBay serves it). Not rate limited or faulted.

Notifications: ``ORDER_CONFIRMATION``, one per line item (as eBay fires it), in the
Notification API envelope, signed with ``X-EBAY-SIGNATURE`` (ECDSA/SHA1 over the body).
A redelivery keeps ``notificationId`` and increments ``publishAttemptCount``. Its
``data`` names the order only (``orderId``): eBay's schema says the seller reads the
order (getOrder) to learn what sold.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from collections import deque
from typing import Any
from urllib.parse import parse_qs, quote

from cryptography.hazmat.primitives import serialization

from channels.webhooks.signing import sign_ebay
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
from simulator.state import Store, stable_id

API = ("sell", "inventory", "v1")
MAX_REQUESTS = 25
MARKETPLACE = "EBAY_US"
MAX_SKU_LENGTH = 50
# eBay's user tokens live about two hours ("User tokens typically expire within two
# hours", https://developer.ebay.com/support/faq); a store without a lifetime says so.
DEFAULT_TOKEN_LIFETIME = 7200


def _error(error_id: int, message: str, category: str = "REQUEST") -> dict[str, Any]:
    return {
        "errorId": error_id,
        "domain": "API_INVENTORY",
        "category": category,
        "message": message,
    }


def _item(sku: str, quantity: int) -> dict[str, Any]:
    """An inventory item as getInventoryItem (and bulkGetInventoryItem) returns it."""
    return {
        "sku": sku,
        "locale": "en_US",
        "product": {"title": sku},
        "condition": "NEW",
        "availability": {"shipToLocationAvailability": {"quantity": quantity}},
    }


class EbayApi(KindApi):
    kind = "ebay"
    supported_events = frozenset({"order.created"})

    def __init__(self) -> None:
        self.routes = (
            Route("POST", (*API, "bulk_update_price_quantity"), self._bulk_update, "write"),
            Route("POST", (*API, "bulk_get_inventory_item"), self._bulk_get, "read"),
            Route("GET", (*API, "inventory_item", "{sku}"), self._inventory_item, "read"),
            Route("GET", (*API, "offer"), self._offers, "read"),
            Route("GET", ("sell", "fulfillment", "v1", "order", "{order_id}"), self._order, "read"),
            Route(
                "POST",
                ("identity", "v1", "oauth2", "token"),
                self._token,
                "aux",
                None,
                authenticated=False,
            ),
            Route(
                "GET",
                ("commerce", "notification", "v1", "public_key", "{kid}"),
                self._public_key,
                "aux",
                None,
            ),
        )

    def authenticate(self, store: Store, request: Request) -> Response | None:
        authorization = request.header("authorization")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        expected = store.credentials.get("access_token")
        with store.lock:
            issued = store.issued_tokens.get(token)
        if issued is not None:
            expires_at, grant = issued
            if time.time() >= expires_at:
                return self._invalid_token()
            if grant == "application" and "public_key" not in request.segments:
                # An application token reads public data only, never a seller's account.
                return json_response(
                    403,
                    {"errors": [_error(1100, "Access denied: insufficient permissions.")]},
                )
            return None
        if not token or (expected and token != expected):
            return self._invalid_token()
        if store.token_lifetime_seconds and token != expected:
            # Tokens expire here: only one the identity endpoint issued is good.
            return self._invalid_token()
        return None

    @staticmethod
    def _invalid_token() -> Response:
        return json_response(
            401,
            {
                "errors": [
                    {
                        "errorId": 1001,
                        "domain": "OAuth",
                        "category": "REQUEST",
                        "message": "Invalid access token",
                        "longMessage": "Invalid access token. Check the value of the "
                        "Authorization HTTP request header.",
                    }
                ]
            },
        )

    def error(self, status: int, message: str, code: str = "") -> Response:
        category = "APPLICATION" if status >= 500 else "REQUEST"
        return json_response(status, {"errors": [_error(status * 100, message, category)]})

    def listing(self, store: Store, sku: str) -> dict[str, str]:
        return {
            "external_id": str(store.id_for("offer", sku)),
            "external_parent_id": "",
            "external_location_id": "",
        }

    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        return {
            "settings": {
                "base_url": base_url,
                "marketplace_id": MARKETPLACE,
                # The hub's eBay verifier fetches public keys from here (its {kid} filled in).
                "notification_key_url": f"{base_url}/commerce/notification/v1/public_key/{{kid}}",
            },
            "credentials": self._channel_credentials(store),
        }

    @staticmethod
    def _channel_credentials(store: Store) -> dict[str, str]:
        credentials = {
            "access_token": store.credentials.get("access_token") or f"v^1.1#sim-{store.name}"
        }
        if store.token_lifetime_seconds or store.credentials.get("refresh_token"):
            # What a connected eBay account gives the hub: the app's keys and the seller's
            # refresh token, from which it mints (and renews) access tokens.
            credentials = {
                "client_id": store.credentials.get("client_id") or f"sim-{store.name}-app",
                "client_secret": store.credentials.get("client_secret") or "sim-cert-id",
                "refresh_token": store.credentials.get("refresh_token")
                or f"v^1.1#sim-refresh-{store.name}",
            }
        return credentials

    def make_secret(self) -> str:
        # eBay signs with its own ECDSA key; the secret is the endpoint verification token.
        return uuid.uuid4().hex

    def order_id(self, store: Store, number: int) -> str:
        digits = str(stable_id(store.name, "order", str(number)))
        return f"{number % 100:02d}-{digits[:5]}-{digits[5:10]}"

    # -- API ------------------------------------------------------------------------------

    @staticmethod
    def _bulk_requests(request: Request, call: Call) -> list | Response:
        """The ``requests`` of a bulk call (1 to MAX_REQUESTS), or eBay's 400."""
        body = request.json()
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return json_response(400, {"errors": [_error(25709, "Invalid request: 'requests'")]})
        call.items = len(requests)
        if len(requests) > MAX_REQUESTS:
            return json_response(
                400,
                {"errors": [_error(25727, f"The number of requests exceeds {MAX_REQUESTS}.")]},
            )
        return requests

    def _bulk_update(self, store: Store, request: Request, call: Call) -> Response:
        requests = self._bulk_requests(request, call)
        if isinstance(requests, Response):
            return requests
        responses: list[dict[str, Any]] = []
        with store.lock:
            for entry in requests:
                responses.extend(self._update(store, entry, call))
            if call.drop_writes:
                store.stats.writes_dropped += 1
        status = 200 if all(r["statusCode"] == 200 for r in responses) else 207
        return json_response(status, {"responses": responses})

    def _update(self, store: Store, entry: dict[str, Any], call: Call) -> list[dict[str, Any]]:
        sku = str(entry.get("sku") or "")
        if sku not in store.levels:
            return [
                {
                    "sku": sku,
                    "statusCode": 404,
                    "errors": [_error(25702, f"SKU {sku} is not available in the system.")],
                    "warnings": [],
                }
            ]
        if not self._revise(store, sku):
            return [
                {
                    "sku": sku,
                    "statusCode": 400,
                    # The real error id of this refusal is unverified.
                    "errors": [_error(25099, f"Listing {sku} reached its daily revision limit.")],
                    "warnings": [],
                }
            ]
        ship = entry.get("shipToLocationAvailability") or {}
        item_quantity = ship.get("quantity")
        results: list[dict[str, Any]] = []
        offer_quantity = None
        for offer in entry.get("offers") or ():
            offer_id = str(offer.get("offerId") or "")
            if offer_id != str(store.id_for("offer", sku)):
                results.append(
                    {
                        "offerId": offer_id,
                        "sku": sku,
                        "statusCode": 404,
                        "errors": [_error(25713, "This Offer is not available.")],
                        "warnings": [],
                    }
                )
                continue
            if sku in store.unpublished:
                results.append(
                    {
                        "offerId": offer_id,
                        "sku": sku,
                        "statusCode": 400,
                        # The real error id of this refusal is unverified.
                        "errors": [
                            _error(25099, "This call does not work with unpublished offers.")
                        ],
                        "warnings": [],
                    }
                )
                continue
            offer_quantity = offer.get("availableQuantity")
            results.append(
                {"offerId": offer_id, "sku": sku, "statusCode": 200, "errors": [], "warnings": []}
            )
        if not call.drop_writes:
            if isinstance(item_quantity, int):
                store.levels[sku] = item_quantity
            if isinstance(offer_quantity, int):
                store.offer_levels[sku] = offer_quantity
        if not results:
            results.append({"sku": sku, "statusCode": 200, "errors": [], "warnings": []})
        return results

    @staticmethod
    def _revise(store: Store, sku: str) -> bool:
        """Count a revision of the SKU's listing, or refuse it (and count a violation)
        when the listing already took its cap in the last 24 hours."""
        now = time.time()
        times = store.revisions.setdefault(sku, deque())
        while times and times[0] <= now - 24 * 3600:
            times.popleft()
        if len(times) >= store.revisions_per_listing_per_day:
            store.stats.revision_limit_violations += 1
            return False
        times.append(now)
        return True

    def _bulk_get(self, store: Store, request: Request, call: Call) -> Response:
        if not request.header("content-type").lower().startswith("application/json"):
            return self.error(415, "Unsupported media type: send Content-Type: application/json.")
        requests = self._bulk_requests(request, call)
        if isinstance(requests, Response):
            return requests
        skus = [str(entry.get("sku") or "") for entry in requests]
        with store.lock:
            quantities = {sku: store.levels.get(sku) for sku in skus}
        responses: list[dict[str, Any]] = []
        for sku in skus:
            quantity = quantities[sku]
            if quantity is None:
                responses.append(
                    {
                        "statusCode": 404,
                        "sku": sku,
                        "errors": [_error(25702, f"SKU {sku} is not available in the system.")],
                        "warnings": [],
                    }
                )
            else:
                responses.append(
                    {"statusCode": 200, "sku": sku, "inventoryItem": _item(sku, quantity)}
                )
        status = 200 if all(r["statusCode"] == 200 for r in responses) else 207
        return json_response(status, {"responses": responses})

    def _inventory_item(self, store: Store, request: Request, call: Call) -> Response:
        sku = call.params["sku"]
        with store.lock:
            quantity = store.levels.get(sku)
        if quantity is None:
            return json_response(
                404,
                {"errors": [_error(25710, "We didn't find the entity you are requesting.")]},
            )
        return json_response(200, _item(sku, quantity))

    def _offers(self, store: Store, request: Request, call: Call) -> Response:
        sku = request.param("sku")
        if not sku:
            return json_response(400, {"errors": [_error(25707, "The sku is required.")]})
        if len(sku) > MAX_SKU_LENGTH:
            return json_response(
                400,
                {
                    "errors": [
                        _error(
                            25707,
                            "This is an invalid value for a SKU. Only alphanumeric characters "
                            f"can be used for SKUs, and their length must not exceed "
                            f"{MAX_SKU_LENGTH} characters",
                        )
                    ]
                },
            )
        with store.lock:
            quantity = store.offer_levels.get(sku) if sku in store.levels else None
            published = sku not in store.unpublished
        if quantity is None:
            return json_response(404, {"errors": [_error(25713, "This Offer is not available.")]})
        offer_id = str(store.id_for("offer", sku))
        listing = (
            {"listing": {"listingId": str(stable_id(store.name, "listing", sku))}}
            if published
            else {}
        )
        return json_response(
            200,
            {
                "href": f"?sku={quote(sku)}",
                "total": 1,
                "size": 1,
                "limit": 25,
                "offers": [
                    {
                        "offerId": offer_id,
                        "sku": sku,
                        "marketplaceId": MARKETPLACE,
                        "format": "FIXED_PRICE",
                        "availableQuantity": quantity,
                        "status": "PUBLISHED" if published else "UNPUBLISHED",
                        **listing,
                    }
                ],
            },
        )

    def _order(self, store: Store, request: Request, call: Call) -> Response:
        order_id = call.params["order_id"]
        with store.lock:
            order = store.orders.get(order_id)
            lines = list(order.lines) if order is not None else []
        if order is None:
            return json_response(
                404, {"errors": [_error(32100, f"Invalid order ID: {order_id}", "REQUEST")]}
            )
        created = order.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return json_response(
            200,
            {
                "orderId": order.order_id,
                "creationDate": created,
                "orderFulfillmentStatus": "NOT_STARTED",
                "orderPaymentStatus": "PAID",
                "lineItems": [
                    {
                        "lineItemId": line.line_id,
                        "legacyItemId": str(stable_id(store.name, "listing", line.sku)),
                        "sku": line.sku,
                        "title": line.sku,
                        "quantity": line.quantity,
                        "lineItemFulfillmentStatus": "NOT_STARTED",
                    }
                    for line in lines
                ],
            },
        )

    def _token(self, store: Store, request: Request, call: Call) -> Response:
        authorization = request.header("authorization")
        try:
            pair = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        client_id, _, client_secret = pair.partition(":")
        expected_id = store.credentials.get("client_id")
        expected_secret = store.credentials.get("client_secret")
        if (
            not authorization.lower().startswith("basic ")
            or not client_id
            or not client_secret
            or (expected_id and client_id != expected_id)
            or (expected_secret and client_secret != expected_secret)
        ):
            return json_response(
                401,
                {"error": "invalid_client", "error_description": "client authentication failed"},
            )
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            refresh = form.get("refresh_token")
            expected_refresh = store.credentials.get("refresh_token")
            if not refresh or (expected_refresh and refresh != expected_refresh):
                return json_response(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "the provided authorization refresh token is "
                        "invalid or was issued to another client",
                    },
                )
            kind, token_type = "user", "User Access Token"
        elif grant == "client_credentials":
            if not form.get("scope"):
                return json_response(
                    400, {"error": "invalid_scope", "error_description": "scope is required"}
                )
            kind, token_type = "application", "Application Access Token"
        else:
            return json_response(
                400,
                {"error": "unsupported_grant_type", "error_description": f"{grant!r}"},
            )
        lifetime = store.token_lifetime_seconds or DEFAULT_TOKEN_LIFETIME
        token = f"v^1.1#sim-{kind}-{secrets.token_urlsafe(18)}"
        with store.lock:
            store.issued_tokens[token] = (time.time() + lifetime, kind)
        return json_response(
            200, {"access_token": token, "expires_in": lifetime, "token_type": token_type}
        )

    def _public_key(self, store: Store, request: Request, call: Call) -> Response:
        if call.params["kid"] != store.signing_kid:
            return json_response(
                404, {"errors": [_error(195000, "Public key not found.", "REQUEST")]}
            )
        pem = (
            store.signing_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return json_response(
            200, {"key": pem.replace("\n", ""), "algorithm": "ECDSA", "digest": "SHA1"}
        )

    # -- notifications --------------------------------------------------------------------

    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        if event.type != "order.created":
            raise ValueError(
                "the eBay simulator sends ORDER_CONFIRMATION for new orders only; "
                "send other notifications as raw events ({'topic', 'payload'})"
            )
        order = require_order(event)
        deliveries = []
        for _line in event.lines:
            # One per line item, each naming only the order (eBay's published schema).
            data = {"orderId": order.order_id}
            deliveries.append(
                self._notification(store, "ORDER_CONFIRMATION", data, order.order_id, event)
            )
        return deliveries

    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        body = compact_json(payload)

        def render(attempt: int) -> tuple[bytes, dict[str, str]]:
            return body, self._headers(store, body)

        return Delivery(event_id=str(uuid.uuid4()), topic=topic, order_id="", render=render)

    def _notification(
        self, store: Store, topic: str, data: dict[str, Any], order_id: str, event: Event
    ) -> Delivery:
        notification_id = str(uuid.uuid4())
        event_date = event.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

        def render(attempt: int) -> tuple[bytes, dict[str, str]]:
            body = compact_json(
                {
                    "metadata": {"topic": topic, "schemaVersion": "1.0", "deprecated": False},
                    "notification": {
                        "notificationId": notification_id,
                        "eventDate": event_date,
                        "publishDate": event_date,
                        "publishAttemptCount": attempt,
                        "data": data,
                    },
                }
            )
            return body, self._headers(store, body)

        return Delivery(event_id=notification_id, topic=topic, order_id=order_id, render=render)

    @staticmethod
    def _headers(store: Store, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            **sign_ebay(body, store.signing_key, kid=store.signing_kid, digest="SHA1"),
        }
