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

Credentials: ``access_token`` (an OAuth user token with the sell.inventory scope).
Settings: optional ``content_language`` (default ``en-US``) and ``marketplace_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
)

API_PATH = "sell/inventory/v1"
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

    @property
    def _headers(self) -> dict[str, str]:
        token = self.credentials.get("access_token")
        if not token:
            raise ChannelRejected("ebay: credentials have no access_token")
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
        looked_up = self.find_listings(unmapped) if unmapped else {}
        requests = []
        for push in pushes:
            ref = push.ref if push.ref.external_id else looked_up.get(push.ref.sku, push.ref)
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
        by_sku: dict[str, list[dict[str, Any]]] = {}
        for answer in answers:
            by_sku.setdefault(str(answer.get("sku")), []).append(answer)
        return [self._outcome(push, by_sku.get(push.ref.sku, [])) for push in pushes]

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
        found: dict[str, ListingRef] = {}
        for sku in dict.fromkeys(skus):
            response = self._send(
                "GET",
                f"{self.api_url}/offer",
                params={"sku": sku},
                expected=(404,),
                headers=self._headers,
            )
            if response.status_code == 404:
                continue
            offers = [o for o in self._json(response).get("offers") or () if o.get("offerId")]
            if offers:
                found[sku] = ListingRef(
                    sku=sku, external_id=",".join(str(o["offerId"]) for o in offers)
                )
        return found
