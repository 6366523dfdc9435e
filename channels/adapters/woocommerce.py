"""WooCommerce: the core REST API, version 3 (``{base_url}/wp-json/wc/v3``).

* Push: ``POST products/batch`` with ``{"update": [{"id", "manage_stock": true,
  "stock_quantity": N}]}``; variations go to ``POST products/<parent>/variations/batch``.
  Woo caps a batch at 100 objects (filter ``woocommerce_rest_batch_items_limit``), so that
  is ``max_batch``; one push may make one request per parent product. Woo has no
  compare-and-set and no idempotency key: an absolute quantity is safe to resend.
  Per-item errors come back inside the batch answer as ``{"id", "error": {...}}``.
* Read and find: ``GET products?sku=a,b,c`` (comma separated). With a ``sku`` filter Woo
  searches variations too, and each result carries ``parent_id``.

Credentials: ``consumer_key`` and ``consumer_secret`` sent as HTTP basic auth (Woo accepts
that over HTTPS). Settings: optional ``api_path`` (default ``wp-json/wc/v3``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelRejected,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
    outcomes_for_error,
)

API_PATH = "wp-json/wc/v3"
# SKUs per search request: Woo pages at most 100 results.
READ_CHUNK = 100


def woo_id(value: str) -> int | str:
    return int(value) if str(value).isdigit() else value


class WooCommerceAdapter(ChannelAdapter):
    kind = "woocommerce"
    max_batch = 100
    # Woo documents no limit; the host decides. A polite default, overridable per channel.
    rate_per_second = 10.0
    burst = 20

    @property
    def api_url(self) -> str:
        path = str(self.settings.get("api_path") or API_PATH).strip("/")
        return f"{self.base_url}/{path}"

    @property
    def _auth(self) -> httpx.BasicAuth:
        key = self.credentials.get("consumer_key")
        secret = self.credentials.get("consumer_secret")
        if not key or not secret:
            raise ChannelRejected("woocommerce: credentials need consumer_key and consumer_secret")
        return httpx.BasicAuth(str(key), str(secret))

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        ready, outcomes = self._resolve_listing_ids(pushes)
        groups: dict[str, list[int]] = defaultdict(list)
        for position, push in ready.items():
            groups[push.ref.external_parent_id].append(position)
        for parent, positions in groups.items():
            batch = [ready[i] for i in positions]
            try:
                results = self._update_batch(parent, batch)
            except ChannelError as exc:
                if not outcomes:
                    raise
                results = outcomes_for_error([p.ref for p in batch], exc)
            outcomes.update(zip(positions, results, strict=True))
        return [outcomes[i] for i in range(len(pushes))]

    def _update_batch(self, parent: str, batch: Sequence[LevelPush]) -> list[PushOutcome]:
        url = (
            f"{self.api_url}/products/{parent}/variations/batch"
            if parent
            else f"{self.api_url}/products/batch"
        )
        payload = {
            "update": [
                {
                    "id": woo_id(push.ref.external_id),
                    "manage_stock": True,
                    "stock_quantity": push.quantity,
                }
                for push in batch
            ]
        }
        body = self._json(self._send("POST", url, json=payload, auth=self._auth))
        answers = body.get("update") if isinstance(body, dict) else None
        if not isinstance(answers, list):
            raise ChannelUnavailable(f"woocommerce: batch answer without 'update': {body!r:.200}")
        by_id = {str(answer.get("id")): answer for answer in answers if isinstance(answer, dict)}
        return [self._outcome(push, by_id.get(push.ref.external_id)) for push in batch]

    @staticmethod
    def _outcome(push: LevelPush, answer: dict[str, Any] | None) -> PushOutcome:
        if answer is None:
            return PushOutcome(
                ref=push.ref, status="retry", error="woocommerce: item missing from the answer"
            )
        error = answer.get("error")
        if not error:
            return PushOutcome(ref=push.ref, status="accepted")
        status = (error.get("data") or {}).get("status") or 400
        message = f"woocommerce: {error.get('code', '')}: {error.get('message', '')}"
        if status == 429 or status >= 500:
            return PushOutcome(ref=push.ref, status="retry", error=message)
        return PushOutcome(ref=push.ref, status="failed", error=message)

    # -- read -----------------------------------------------------------------------------

    def _search(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Products and variations by SKU. A SKU containing a comma is searched alone,
        because Woo splits the filter on commas."""
        unique = list(dict.fromkeys(skus))
        plain = [sku for sku in unique if "," not in sku]
        requests = [list(chunk) for chunk in chunked(plain, READ_CHUNK)]
        requests.extend([sku] for sku in unique if "," in sku)
        found: dict[str, dict[str, Any]] = {}
        for group in requests:
            response = self._send(
                "GET",
                f"{self.api_url}/products",
                params={"sku": ",".join(group), "per_page": READ_CHUNK},
                auth=self._auth,
            )
            products = self._json(response)
            if not isinstance(products, list):
                raise ChannelUnavailable("woocommerce: product search did not answer a list")
            wanted = set(group)
            for product in products:
                sku = product.get("sku")
                if sku in wanted:
                    found.setdefault(sku, product)
        return found

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        products = self._search([ref.sku for ref in refs])
        levels: dict[str, int | None] = {}
        for ref in refs:
            product = products.get(ref.sku)
            quantity = product.get("stock_quantity") if product else None
            levels[ref.sku] = int(quantity) if quantity is not None else None
        return levels

    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        return {
            sku: ListingRef(
                sku=sku,
                external_id=str(product["id"]),
                external_parent_id=str(product.get("parent_id") or ""),
            )
            for sku, product in self._search(skus).items()
        }
