"""WooCommerce: the core REST API, version 3 (``{base_url}/wp-json/wc/v3``).

* Push: ``POST products/batch`` with ``{"update": [{"id", "manage_stock": true,
  "stock_quantity": N}]}``; variations go to ``POST products/<parent>/variations/batch``.
  Woo caps a batch at 100 objects (filter ``woocommerce_rest_batch_items_limit``), so that
  is ``max_batch``; one push may make one request per parent product. Woo has no
  compare-and-set and no idempotency key: an absolute quantity is safe to resend.
  Per-item errors come back inside the batch answer as ``{"id", "error": {...}}``.
* A variation whose stock its parent manages answers ``"manage_stock": "parent"`` (core's
  ``WC_Product_Variation::get_manage_stock()``, woocommerce/woocommerce
  plugins/woocommerce/includes/class-wc-product-variation.php) and shows the parent's
  ``stock_quantity``. Sending it ``manage_stock: true`` would move stock management to the
  variation (the v3 variations controller calls ``set_manage_stock``), so before a
  variation batch the adapter reads the variations' ``manage_stock``
  (``GET products/<parent>/variations?include=...``) and pushes parent-managed ones to
  the parent product instead (``stock_quantity`` only). The read-back by SKU shows the
  parent's number through the variation, as Woo does.
* Read and find: ``GET products?sku=a,b,c`` (comma separated). With a ``sku`` filter Woo
  searches variations too, and each result carries ``parent_id``.

Credentials: ``consumer_key`` and ``consumer_secret``, sent as HTTP basic auth
(``settings["auth"] = "header"``, the default) or, for hosts that strip the
``Authorization`` header, as the ``consumer_key``/``consumer_secret`` query parameters
(``"query"``). Both are WooCommerce's documented authentication over HTTPS
(woocommerce-rest-api-docs, "Authentication over HTTPS"; core accepts either in
``WC_REST_Authentication::perform_basic_authentication``); the query form is refused over
plain http, where it would put the secret in the clear. Settings: optional ``api_path``
(default ``wp-json/wc/v3``), ``auth``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelNeedsAction,
    ChannelRejected,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
    outcomes_for_error,
)
from foundation.egress import private_networks_allowed

API_PATH = "wp-json/wc/v3"
# SKUs per search request: Woo pages at most 100 results.
READ_CHUNK = 100
# How the consumer key and secret travel (settings["auth"]).
AUTH_MODES = ("header", "query")


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

    def _error_for_response(self, response: httpx.Response, what: str) -> ChannelError:
        error = super()._error_for_response(response, what)
        if response.status_code == 401:
            # Woo's REST authentication refused the key and secret: nothing will work
            # until the merchant acts (a host stripping the header looks the same).
            return ChannelNeedsAction(
                str(error),
                action="WooCommerce refused the consumer key and secret: check them (a "
                "Read/Write REST API key), or, if the host strips the Authorization header, "
                "set the channel's auth setting to query.",
                status_code=401,
            )
        return error

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request carrying the consumer key and secret the way settings.auth says."""
        key = self.credentials.get("consumer_key")
        secret = self.credentials.get("consumer_secret")
        if not key or not secret:
            raise ChannelRejected("woocommerce: credentials need consumer_key and consumer_secret")
        mode = self.settings.get("auth") or "header"
        if mode == "header":
            return self._send(method, url, auth=httpx.BasicAuth(str(key), str(secret)), **kwargs)
        if mode != "query":
            raise ChannelNeedsAction(
                f"woocommerce: settings.auth is {mode!r}",
                action="Set the channel's auth setting to header or query.",
            )
        if not url.startswith("https://") and not private_networks_allowed():
            raise ChannelNeedsAction(
                "woocommerce: query-string authentication over plain http",
                action="Use the shop's https:// address: the consumer secret may only travel "
                "in a query string over HTTPS.",
            )
        params = {**kwargs.pop("params", {}), "consumer_key": key, "consumer_secret": secret}
        return self._send(method, url, params=params, **kwargs)

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        ready, outcomes = self._resolve_listing_ids(pushes)
        groups: dict[str, list[int]] = defaultdict(list)
        for position, push in ready.items():
            groups[push.ref.external_parent_id].append(position)
        # Variations whose parent manages their stock: parent id -> positions.
        to_parents: dict[str, list[int]] = {}
        for parent, positions in list(groups.items()):
            if not parent:
                continue
            try:
                ids = [ready[i].ref.external_id for i in positions]
                managed = self._parent_managed(parent, ids)
            except ChannelNeedsAction:
                raise  # the channel pauses; nothing is spent (drain.py)
            except ChannelError as exc:
                if not outcomes:
                    raise
                batch = [ready[i].ref for i in positions]
                outcomes.update(zip(positions, outcomes_for_error(batch, exc), strict=True))
                del groups[parent]
                continue
            moved = [i for i in positions if ready[i].ref.external_id in managed]
            if moved:
                to_parents[parent] = moved
                groups[parent] = [i for i in positions if i not in moved]
        for parent, positions in groups.items():
            if not positions:
                continue
            batch = [ready[i] for i in positions]
            try:
                results = self._update_batch(parent, batch)
            except ChannelNeedsAction:
                raise  # the channel pauses; nothing is spent (drain.py)
            except ChannelError as exc:
                if not outcomes:
                    raise
                results = outcomes_for_error([p.ref for p in batch], exc)
            outcomes.update(zip(positions, results, strict=True))
        if to_parents:
            outcomes.update(self._update_parents(to_parents, ready))
        return [outcomes[i] for i in range(len(pushes))]

    def _parent_managed(self, parent: str, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` (variations of ``parent``) whose stock the parent manages."""
        response = self._request(
            "GET",
            f"{self.api_url}/products/{parent}/variations",
            params={"include": ",".join(ids), "per_page": READ_CHUNK},
        )
        variations = self._json(response)
        if not isinstance(variations, list):
            raise ChannelUnavailable("woocommerce: the variations read did not answer a list")
        return {
            str(variation.get("id"))
            for variation in variations
            if isinstance(variation, dict) and variation.get("manage_stock") == "parent"
        }

    def _update_parents(
        self, to_parents: dict[str, list[int]], ready: dict[int, LevelPush]
    ) -> dict[int, PushOutcome]:
        """Push parent-managed variations' quantities to their parents (one products
        batch). Two variations of one parent asking for different numbers cannot both
        be the parent's: both fail, saying so."""
        outcomes: dict[int, PushOutcome] = {}
        entries: dict[str, int] = {}
        for parent, positions in to_parents.items():
            quantities = {ready[i].quantity for i in positions}
            if len(quantities) > 1:
                skus = ", ".join(sorted(ready[i].ref.sku for i in positions))
                for i in positions:
                    outcomes[i] = PushOutcome(
                        ref=ready[i].ref,
                        status="failed",
                        error=(
                            f"woocommerce: {skus} share the stock of parent product {parent} "
                            f"(manage_stock 'parent') but the hub publishes "
                            f"{sorted(quantities)} for them: let each variation manage its "
                            "own stock in WooCommerce, or list one SKU for the parent"
                        ),
                    )
                continue
            entries[parent] = quantities.pop()
        if not entries:
            return outcomes
        payload = {
            "update": [
                {"id": woo_id(parent), "stock_quantity": quantity}
                for parent, quantity in entries.items()
            ]
        }
        sent = [i for parent in entries for i in to_parents[parent]]
        try:
            body = self._json(self._request("POST", f"{self.api_url}/products/batch", json=payload))
            answers = body.get("update") if isinstance(body, dict) else None
            if not isinstance(answers, list):
                raise ChannelUnavailable("woocommerce: batch answer without 'update'")
        except ChannelNeedsAction:
            raise  # the channel pauses; nothing is spent (drain.py)
        except ChannelError as exc:
            refs = [ready[i].ref for i in sent]
            outcomes.update(zip(sent, outcomes_for_error(refs, exc), strict=True))
            return outcomes
        by_id = {str(answer.get("id")): answer for answer in answers if isinstance(answer, dict)}
        for parent in entries:
            for i in to_parents[parent]:
                outcomes[i] = self._outcome(ready[i], by_id.get(parent))
        return outcomes

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
        body = self._json(self._request("POST", url, json=payload))
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
            response = self._request(
                "GET",
                f"{self.api_url}/products",
                params={"sku": ",".join(group), "per_page": READ_CHUNK},
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
