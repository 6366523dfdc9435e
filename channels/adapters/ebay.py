"""eBay: the Sell Inventory API (``{base_url}/sell/inventory/v1``).

* Push: ``POST bulk_update_price_quantity`` with up to 25 requests, each setting both the
  inventory item's ``shipToLocationAvailability.quantity`` and every offer's
  ``availableQuantity``: the listing shows the smaller of the two, so both must move.
  The answer is 200 or 207 (multi-status) with one ``responses[]`` entry per offer (or per
  SKU); a SKU is accepted when all its entries are 2xx. No compare-and-set and no
  idempotency key. eBay revises a listing at most 250 times per calendar day: the
  drainer spends that budget (``channels.revisions``).
* Read: ``POST bulk_get_inventory_item`` with up to 25 ``requests`` of ``{sku}``
  (``Content-Type: application/json``). The answer is 200, or 207 when results are mixed,
  with one ``responses[]`` entry per SKU carrying its own ``statusCode`` and, on 200, the
  ``inventoryItem`` as ``GET inventory_item/{sku}`` returns it. A 404 entry means not
  listed; any other failed entry fails the read as a failed call would (429 throttled,
  5xx unavailable, other 4xx rejected), as did the one-GET-per-SKU read it replaces.
* Find: ``GET offer?sku=`` gives the offer id(s). ``ListingRef.external_id`` holds the offer
  id, or several separated by commas for a SKU offered on several marketplaces; a SKU
  without a known offer is pushed with its offers looked up first.

* Offers: ``getOffers`` says each offer's ``status``. ``bulkUpdatePriceQuantity`` "is not
  designed to work with unpublished offers" (PriceQuantity type,
  https://developer.ebay.com/api-docs/sell/inventory/types/slr:PriceQuantity), so only
  PUBLISHED offer ids are kept and sent; a SKU whose offers are all unpublished gets its
  inventory item's ship-to-home quantity alone (what a publish will start from), and is
  looked up again on its next push. A SKU ``getOffers`` refuses (400, an invalid SKU)
  fails alone; the rest of the batch goes on.
* Orders: ``fetch_order`` reads ``GET sell/fulfillment/v1/order/{orderId}`` (getOrder):
  an ORDER_CONFIRMATION notification carries only the order id.

Credentials: ``access_token`` (an OAuth user token with the sell.inventory and
sell.fulfillment scopes), or, so that it is renewed before it expires (a user token
lives about two hours), ``client_id``, ``client_secret`` and ``refresh_token``: the
adapter mints a new access token with the refresh-token grant
(:mod:`channels.webhooks.ebay_oauth`) and keeps it, with ``access_token_expires_at``,
through its ``credential_store``. A revoked or expired refresh token is a
:class:`ChannelNeedsAction`. Settings: optional ``content_language`` (default
``en-US``) and ``marketplace_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelNeedsAction,
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
)
from channels.webhooks import _fields, ebay_oauth
from channels.webhooks.events import OrderLine
from channels.webhooks.parse import ebay_order_lines

API_PATH = "sell/inventory/v1"
ORDER_PATH = "sell/fulfillment/v1/order"
REVOKED_ACTION = "eBay refresh token revoked or expired: reconnect the eBay account"
logger = logging.getLogger(__name__)


def offer_ids(ref: ListingRef) -> list[str]:
    return [offer for offer in ref.external_id.split(",") if offer]


class EbayAdapter(ChannelAdapter):
    kind = "ebay"
    max_batch = 25
    # eBay publishes daily quotas rather than a per-second rate; stay polite.
    rate_per_second = 10.0
    burst = 20
    # "Each listing can be revised at most 250 times per calendar day."
    revisions_per_listing_per_day = 250

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/{API_PATH}"

    # -- the access token -------------------------------------------------------------------

    def _access_token(self) -> str:
        """The user access token, renewed first when it expires within the margin (only
        for a channel with a refresh token: a bare access token is used as it is)."""
        if not self.credentials.get("refresh_token"):
            token = self.credentials.get("access_token")
            if not token:
                raise ChannelRejected("ebay: credentials have no access_token")
            return str(token)
        if not self._token_due(self.credentials):
            return str(self.credentials["access_token"])
        if self.credential_store is not None:
            # Under the store's lock: a process that renewed meanwhile leaves nothing due.
            current = self.credential_store.renew(self._renewal)
        else:
            current = {**self.credentials, **(self._renewal(self.credentials) or {})}
        self.credentials.update(current)
        return str(self.credentials["access_token"])

    @staticmethod
    def _token_due(credentials: Mapping[str, Any]) -> bool:
        if not credentials.get("access_token"):
            return True
        try:
            expires_at = datetime.fromisoformat(str(credentials.get("access_token_expires_at")))
        except ValueError:
            return True
        if expires_at.tzinfo is None:
            return True
        return not ebay_oauth.still_good(expires_at, now=datetime.now(UTC))

    def _send(
        self, method: str, url: str, *, expected: Any = (), cost: float = 1.0, **kwargs: Any
    ) -> httpx.Response:
        """As the base class, and a 401 to a user token that should still be good (eBay
        revoked it early: a password change) renews it once and sends again."""
        try:
            return super()._send(method, url, expected=expected, cost=cost, **kwargs)
        except ChannelRejected as exc:
            authorization = str((kwargs.get("headers") or {}).get("Authorization", ""))
            if (
                exc.status_code != 401
                or not authorization.startswith("Bearer ")
                or not self.credentials.get("refresh_token")
            ):
                raise
            token = self._renewed_after(authorization.removeprefix("Bearer "))
            kwargs["headers"] = {**kwargs["headers"], "Authorization": f"Bearer {token}"}
            return super()._send(method, url, expected=expected, cost=cost, **kwargs)

    def _renewed_after(self, refused: str) -> str:
        """A token other than ``refused``: the one another process stored since, or a new
        one."""

        def renewal(credentials: Mapping[str, Any]) -> dict[str, Any] | None:
            if credentials.get("access_token") != refused and not self._token_due(credentials):
                return None
            return self._mint(credentials)

        if self.credential_store is not None:
            current = self.credential_store.renew(renewal)
        else:
            current = {**self.credentials, **(renewal(self.credentials) or {})}
        self.credentials.update(current)
        return str(self.credentials["access_token"])

    def _renewal(self, credentials: Mapping[str, Any]) -> dict[str, Any] | None:
        """The credentials to store after a refresh-token grant, or None when the stored
        token is still good (renewed by another process)."""
        if not self._token_due(credentials):
            return None
        return self._mint(credentials)

    def _mint(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        client_id, secret = credentials.get("client_id"), credentials.get("client_secret")
        refresh_token = credentials.get("refresh_token")
        if not client_id or not secret or not refresh_token:
            raise ChannelNeedsAction(
                "ebay: renewing the access token needs client_id, client_secret and "
                "refresh_token in the credentials",
                action="Add the eBay app's client id and client secret to the channel's "
                "credentials",
            )
        response = self._send(
            "POST",
            ebay_oauth.token_url(self.base_url),
            expected=(400, 401),
            # No scope: the new token carries what the seller consented to.
            data=ebay_oauth.refresh_form(str(refresh_token)),
            headers=ebay_oauth.token_headers(str(client_id), str(secret)),
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        try:
            grant = ebay_oauth.grant_from_answer(response.status_code, body, now=datetime.now(UTC))
        except ebay_oauth.GrantRefused as exc:
            if exc.error == "invalid_grant":
                raise ChannelNeedsAction(
                    f"ebay: {exc}", action=REVOKED_ACTION, status_code=exc.status_code
                ) from None
            if exc.error == "invalid_client":
                raise ChannelNeedsAction(
                    f"ebay: {exc}",
                    action="eBay refused the app's client id or client secret: check them "
                    "in the channel's credentials",
                    status_code=exc.status_code,
                ) from None
            raise ChannelRejected(f"ebay: {exc}", status_code=exc.status_code) from None
        except ValueError as exc:
            raise ChannelUnavailable(f"ebay: renewing the access token: {exc}") from None
        return {
            "access_token": grant.access_token,
            "access_token_expires_at": grant.expires_at.isoformat(),
        }

    @property
    def _headers(self) -> dict[str, str]:
        token = self._access_token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Language": str(self.settings.get("content_language") or "en-US"),
        }
        if self.settings.get("marketplace_id"):
            headers["X-EBAY-C-MARKETPLACE-ID"] = str(self.settings["marketplace_id"])
        return headers

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        if not pushes:
            return []
        unmapped = [push.ref.sku for push in pushes if not push.ref.external_id]
        looked_up, refused = self._look_up_offers(unmapped) if unmapped else ({}, {})
        # The offer ids to send each push with (the lookup's, for SKUs the hub had none
        # for); None for a SKU getOffers refused, which is not sent.
        refs: list[ListingRef | None] = [
            push.ref
            if push.ref.external_id
            else None
            if push.ref.sku in refused
            else looked_up.get(push.ref.sku, push.ref)
            for push in pushes
        ]
        requests = []
        for push, ref in zip(pushes, refs, strict=True):
            if ref is None:
                continue
            request: dict[str, Any] = {
                "sku": push.ref.sku,
                "shipToLocationAvailability": {"quantity": push.quantity},
            }
            offers = offer_ids(ref)
            if offers:
                request["offers"] = [
                    {"offerId": offer, "availableQuantity": push.quantity} for offer in offers
                ]
            requests.append(request)
        by_sku: dict[str, list[dict[str, Any]]] = {}
        if requests:
            response = self._send(
                "POST",
                f"{self.api_url}/bulk_update_price_quantity",
                json={"requests": requests},
                headers=self._headers,
            )
            body = self._json(response)
            answers = body.get("responses") if isinstance(body, dict) else None
            if not isinstance(answers, list):
                raise ChannelUnavailable("ebay: bulk update answer without 'responses'")
            for answer in answers:
                by_sku.setdefault(str(answer.get("sku")), []).append(answer)
        outcomes = []
        for push, ref in zip(pushes, refs, strict=True):
            if ref is None:
                outcomes.append(
                    PushOutcome(ref=push.ref, status="failed", error=refused[push.ref.sku])
                )
                continue
            outcome = self._outcome(push, by_sku.get(push.ref.sku, []))
            # Keep the offer ids the lookup found, so the next push need not look again.
            outcome.ref = ref
            outcomes.append(outcome)
        return outcomes

    @staticmethod
    def _outcome(push: LevelPush, answers: list[dict[str, Any]]) -> PushOutcome:
        if not answers:
            return PushOutcome(ref=push.ref, status="retry", error="ebay: SKU missing from answer")
        failures = [a for a in answers if not 200 <= int(a.get("statusCode") or 500) < 300]
        if not failures:
            return PushOutcome(ref=push.ref, status="accepted")
        messages = "; ".join(
            f"{a.get('offerId') or a.get('sku')}: {a.get('statusCode')} "
            + ", ".join(str(e.get("message", "")) for e in a.get("errors") or ())
            for a in failures
        )
        transient = any(int(a.get("statusCode") or 500) >= 500 for a in failures)
        return PushOutcome(
            ref=push.ref, status="retry" if transient else "failed", error=f"ebay: {messages}"
        )

    # -- read -----------------------------------------------------------------------------

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        levels: dict[str, int | None] = {}
        skus = list(dict.fromkeys(ref.sku for ref in refs))
        for chunk in chunked(skus, self.max_batch):
            levels.update(self._read_chunk(chunk))
        return levels

    def _read_chunk(self, skus: Sequence[str]) -> dict[str, int | None]:
        response = self._send(
            "POST",
            f"{self.api_url}/bulk_get_inventory_item",
            json={"requests": [{"sku": sku} for sku in skus]},
            headers=self._headers,
        )
        body = self._json(response)
        answers = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(answers, list):
            raise ChannelUnavailable("ebay: bulk read answer without 'responses'")
        by_sku = {str(a.get("sku")): a for a in answers if isinstance(a, dict)}
        levels: dict[str, int | None] = {}
        for sku in skus:
            answer = by_sku.get(sku)
            if answer is None:
                raise ChannelUnavailable(f"ebay: SKU {sku!r} missing from the bulk read answer")
            status = int(answer.get("statusCode") or 500)
            if status == 429:
                raise self._error_for_answer(response, sku, answer, status)
            if not 200 <= status < 300:
                # Unknown (404) or unreadable just now: this SKU reads as "cannot tell",
                # so its push is retried on its own instead of failing the whole batch.
                if status != 404:
                    logger.warning("%s", self._error_for_answer(response, sku, answer, status))
                levels[sku] = None
                continue
            item = answer.get("inventoryItem") or {}
            availability = (item.get("availability") or {}).get("shipToLocationAvailability")
            quantity = (availability or {}).get("quantity")
            levels[sku] = int(quantity) if quantity is not None else None
        return levels

    def _error_for_answer(
        self, response: httpx.Response, sku: str, answer: dict[str, Any], status: int
    ) -> ChannelError:
        """The error one failed SKU of a bulk read stands for: what its own GET would have
        raised (see ``_error_for_response``). Only a throttle is raised; any other
        failure leaves that SKU unread."""
        errors = ", ".join(str(e.get("message", "")) for e in answer.get("errors") or ())
        message = f"ebay: bulk read of {sku!r} answered {status}"
        if errors:
            message = f"{message}: {errors}"
        if status == 429:
            return ChannelThrottled(
                message, retry_after=self._default_retry_after(response), status_code=status
            )
        if status >= 500 or status == 408:
            return ChannelUnavailable(message, status_code=status)
        return ChannelRejected(message, status_code=status)

    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        """The SKUs with at least one PUBLISHED offer, by their published offer ids. A SKU
        whose offers are all unpublished, that has none, or that eBay calls invalid is
        left out (looked up again next time)."""
        return self._look_up_offers(skus)[0]

    def _look_up_offers(self, skus: Sequence[str]) -> tuple[dict[str, ListingRef], dict[str, str]]:
        """(published offers by SKU, the reason for each SKU getOffers refused)."""
        found: dict[str, ListingRef] = {}
        refused: dict[str, str] = {}
        for sku in dict.fromkeys(skus):
            response = self._send(
                "GET",
                f"{self.api_url}/offer",
                params={"sku": sku},
                # 400: eBay calls this one SKU invalid (errorId 25707, getOffers "HTTP
                # status codes"); it must not fail the other SKUs of the batch.
                expected=(400, 404),
                headers=self._headers,
            )
            if response.status_code == 404:
                continue
            if response.status_code == 400:
                refused[sku] = self._error_for_response(response, f"GET offer?sku={sku}").args[0]
                continue
            body = self._json(response)
            offers = [
                o
                for o in (body.get("offers") if isinstance(body, dict) else None) or ()
                if isinstance(o, dict) and o.get("offerId")
            ]
            published = [o for o in offers if str(o.get("status", "")).upper() == "PUBLISHED"]
            if len(published) < len(offers):
                logger.info(
                    "ebay: SKU %r has %s unpublished offer(s): only its inventory item's "
                    "quantity is updated until they are published",
                    sku,
                    len(offers) - len(published),
                )
            if published:
                found[sku] = ListingRef(
                    sku=sku, external_id=",".join(str(o["offerId"]) for o in published)
                )
        return found, refused

    # -- orders ---------------------------------------------------------------------------

    def fetch_order(self, order_id: str) -> list[OrderLine]:
        """The lines of one order (getOrder, Fulfillment API:
        https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrder):
        ``lineItems[]`` with ``lineItemId``, ``sku`` and ``quantity``. Lines without a SKU
        are skipped. A 404 is a ChannelRejected (the order is not this seller's); a
        malformed answer is a MalformedDelivery."""
        response = self._send(
            "GET",
            f"{self.base_url}/{ORDER_PATH}/{quote(order_id, safe='')}",
            expected=(404,),
            headers=self._headers,
        )
        if response.status_code == 404:
            raise ChannelRejected(f"ebay: order {order_id!r} was not found", status_code=404)
        order = _fields.mapping(self._json(response), "getOrder answer")
        return ebay_order_lines(order.get("lineItems"), "lineItems")
