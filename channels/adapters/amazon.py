"""Amazon: the Selling Partner API, Listings Items 2021-08-01, via python-amazon-sp-api.

* Push: ``PATCH /listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=...`` replacing
  ``/attributes/fulfillment_availability`` with ``[{"fulfillment_channel_code": "DEFAULT",
  "quantity": N}]``. One SKU per request (``max_batch`` 1); Amazon answers ``ACCEPTED`` and
  processes asynchronously, so the read-back is what confirms. No compare-and-set, no
  idempotency key: an absolute ``replace`` is naturally idempotent.
* Read: ``GET`` on the same path with ``includedData=fulfillmentAvailability``; find with
  ``includedData=summaries``. A 404 means the SKU is not listed.
* Limits: patchListingsItem 5/s burst 5, getListingsItem 5/s burst 10. A 429 from SP-API
  carries no Retry-After; the wait is derived from ``x-amzn-RateLimit-Limit``.

Using the SDK against another host
----------------------------------
The SDK is pointed at ``base_url`` (the simulator, a proxy, or a regional endpoint) in
three small steps, because it has no public option for them:

* ``endpoint`` is a plain attribute of its client; we set it to ``base_url`` and override
  the ``headers`` property, whose ``host`` value assumes an ``https://`` endpoint.
* The LWA token URL is built from the token client's ``scheme``/``host``/``path``
  attributes; :class:`_LwaTokenClient` sets them from ``settings["lwa_token_url"]``
  (default: Amazon's for Amazon hosts, ``{base_url}/auth/o2/token`` otherwise) and adds the
  URL to the SDK's token cache key so two token services never share a cached token.
* Both clients send through ``_transport``; we replace it with one that uses the adapter's
  httpx client, so every call has the adapter's explicit timeout and the same mapping of
  429/5xx/timeouts/4xx onto ChannelThrottled/ChannelUnavailable/ChannelRejected as every
  other adapter. (Checked against python-amazon-sp-api 2.1; the adapter tests exercise it
  end to end against the simulator.)

Credentials: ``lwa_app_id``, ``lwa_client_secret``, ``refresh_token`` (``client_id`` /
``client_secret`` are accepted as aliases). Settings: ``seller_id``, ``marketplace_id``,
``product_type``, optional ``fulfillment_channel_code`` (default ``DEFAULT``),
``lwa_token_url``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from sp_api.api.listings_items.listings_items_2021_08_01 import ListingsItemsV20210801
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import (
    MissingCredentials,
    SellingApiException,
    SellingApiNotFoundException,
)
from sp_api.base.credential_provider import FromCodeCredentialProvider

from channels.adapters.base import (
    ChannelAdapter,
    ChannelRejected,
    LevelPush,
    ListingRef,
    PushOutcome,
)

AMAZON_LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"


class _AdapterTransport:
    """The SDK's transport interface, sending through the adapter (timeouts, errors).

    ``passthrough`` statuses go back to the SDK untouched: a 404 on a listing becomes the
    SDK's SellingApiNotFoundException, which the adapter reads as "not listed".
    """

    def __init__(self, adapter: AmazonAdapter, *, passthrough: tuple[int, ...] = ()) -> None:
        self._adapter = adapter
        self._passthrough = passthrough

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: Any = None,
        content: Any = None,
        headers: Any = None,
    ) -> httpx.Response:
        return self._adapter._send(
            method,
            url,
            expected=self._passthrough,
            params=params,
            data=data,
            content=content,
            headers=headers,
        )

    def close(self) -> None:
        """The adapter owns the httpx client."""


class _LwaTokenClient(AccessTokenClient):
    """Login with Amazon, at a configurable token URL, through the adapter's transport."""

    def __init__(self, *, token_url: str, transport: _AdapterTransport, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport.close()
        self._transport = transport
        parts = urlsplit(token_url)
        self.scheme = f"{parts.scheme}://"
        self.host = parts.netloc
        self.path = parts.path
        self._token_url = token_url

    def _get_cache_key(self, token_flavor: str = "") -> str:
        return super()._get_cache_key(f"{token_flavor}@{self._token_url}")


class _ListingsClient(ListingsItemsV20210801):
    @property
    def headers(self) -> dict[str, str]:
        headers = super().headers
        headers["host"] = urlsplit(self.endpoint).netloc
        return headers


class AmazonAdapter(ChannelAdapter):
    kind = "amazon"
    max_batch = 1
    rate_per_second = 5.0
    burst = 5

    def _setting(self, name: str) -> str:
        value = self.settings.get(name)
        if not value:
            raise ChannelRejected(f"amazon: settings need {name!r}")
        return str(value)

    @property
    def token_url(self) -> str:
        configured = self.settings.get("lwa_token_url")
        if configured:
            return str(configured)
        host = urlsplit(self.base_url).hostname or ""
        if host.endswith(".amazon.com") or host.endswith(".amazonaws.com"):
            return AMAZON_LWA_TOKEN_URL
        # Anything else (the simulator, a test double, a proxy) serves LWA beside the API.
        return f"{self.base_url}/auth/o2/token"

    @functools.cached_property
    def _listings(self) -> _ListingsClient:
        credentials = {
            "lwa_app_id": self.credentials.get("lwa_app_id") or self.credentials.get("client_id"),
            "lwa_client_secret": (
                self.credentials.get("lwa_client_secret") or self.credentials.get("client_secret")
            ),
            "refresh_token": self.credentials.get("refresh_token"),
        }
        if not credentials["refresh_token"]:
            raise ChannelRejected("amazon: credentials need a refresh_token")
        try:
            client = _ListingsClient(
                credentials=credentials,
                credential_providers=[FromCodeCredentialProvider],
                auth_token_client_class=functools.partial(
                    _LwaTokenClient,
                    token_url=self.token_url,
                    transport=_AdapterTransport(self),
                ),
            )
        except MissingCredentials as exc:
            raise ChannelRejected(f"amazon: {exc}") from exc
        client._transport.close()
        client._transport = _AdapterTransport(self, passthrough=(404,))
        client.endpoint = self.base_url
        return client

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call one SDK operation; SDK errors become ChannelErrors (404 passes through)."""
        try:
            return getattr(self._listings, operation)(*args, **kwargs)
        except SellingApiNotFoundException:
            raise
        except AuthorizationError as exc:
            raise ChannelRejected(
                f"amazon: LWA refused the credentials: {exc.error_code} {exc.message}",
                status_code=exc.status_code,
            ) from exc
        except SellingApiException as exc:
            raise ChannelRejected(f"amazon: {operation}: {exc.error}") from exc

    def _default_retry_after(self, response: httpx.Response) -> float | None:
        try:
            limit = float(response.headers.get("x-amzn-RateLimit-Limit", ""))
        except ValueError:
            limit = 0.0
        if limit > 0:
            return 1.0 / limit
        return super()._default_retry_after(response)

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        return [self._patch(push) for push in pushes]

    def _patch(self, push: LevelPush) -> PushOutcome:
        body = {
            "productType": self._setting("product_type"),
            "patches": [
                {
                    "op": "replace",
                    "path": FULFILLMENT_AVAILABILITY,
                    "value": [
                        {
                            "fulfillment_channel_code": self._channel_code,
                            "quantity": push.quantity,
                        }
                    ],
                }
            ],
        }
        try:
            response = self._call(
                "patch_listings_item",
                self._setting("seller_id"),
                push.ref.sku,
                marketplaceIds=self._setting("marketplace_id"),
                body=body,
            )
        except SellingApiNotFoundException as exc:
            return PushOutcome(ref=push.ref, status="failed", error=f"amazon: not listed: {exc}")
        payload = response.payload or {}
        status = payload.get("status")
        if status == "ACCEPTED":
            return PushOutcome(ref=push.ref, status="accepted")
        issues = "; ".join(
            f"{issue.get('code', '')}: {issue.get('message', '')}"
            for issue in payload.get("issues") or ()
        )
        return PushOutcome(
            ref=push.ref, status="failed", error=f"amazon: {status or 'no status'}: {issues}"
        )

    @property
    def _channel_code(self) -> str:
        return str(self.settings.get("fulfillment_channel_code") or "DEFAULT")

    # -- read -----------------------------------------------------------------------------

    def _get(self, sku: str, included: str) -> dict[str, Any] | None:
        try:
            response = self._call(
                "get_listings_item",
                self._setting("seller_id"),
                sku,
                marketplaceIds=self._setting("marketplace_id"),
                includedData=included,
            )
        except SellingApiNotFoundException:
            return None
        return response.payload or None

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        levels: dict[str, int | None] = {}
        for ref in refs:
            item = self._get(ref.sku, "fulfillmentAvailability")
            levels[ref.sku] = self._quantity(item) if item else None
        return levels

    def _quantity(self, item: dict[str, Any]) -> int | None:
        for availability in item.get("fulfillmentAvailability") or ():
            if availability.get("fulfillmentChannelCode") == self._channel_code:
                quantity = availability.get("quantity")
                return int(quantity) if quantity is not None else None
        return None

    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        found: dict[str, ListingRef] = {}
        for sku in dict.fromkeys(skus):
            item = self._get(sku, "summaries")
            if item is None:
                continue
            summaries = item.get("summaries") or [{}]
            found[sku] = ListingRef(sku=sku, external_id=str(summaries[0].get("asin") or ""))
        return found
