"""Amazon: the Selling Partner API (Listings Items 2021-08-01, Feeds 2021-06-30) via
python-amazon-sp-api.

* Push, small batches (fewer than ``settings["feed_threshold"]``, default 50 entries):
  ``PATCH /listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=...`` per SKU, a
  ``merge`` of ``/attributes/fulfillment_availability`` with ``[{"fulfillment_channel_code":
  "DEFAULT", "quantity": N}]``. ``merge`` changes the quantity of the entry with that
  channel code and nothing else: the handling time (``lead_time_to_ship_max_days``), the
  restock date and the entries of other channel codes stay as the seller set them, where a
  ``replace`` would wipe them (a JSON patch replaces a whole attribute). Sources: the
  "Merge a listing" tutorial (developer-docs.amazon.com/sp-api/docs/merge-a-listing), the
  changelog of 16 June 2025 that added ``merge`` to the Listings Items API and to
  JSON_LISTINGS_FEED, "Partially update a listing" (patches add, replace or delete entire
  attributes), and ``PatchOperation`` in amzn/selling-partner-api-models
  ``models/listings-items-api-model/listingsItems_2021-08-01.json``. Amazon answers
  ``ACCEPTED`` and processes asynchronously, so the read-back is what confirms. No
  compare-and-set, no idempotency key: setting an absolute quantity is idempotent.
* Product type: every PATCH names the listing's Amazon product type, and one catalogue
  mixes many. A listing keeps its own in ``ListingRef.external_parent_id`` (unused
  otherwise by Amazon, whose listings are keyed by SKU). A push for a listing without one
  reads it once from ``summaries[].productType`` (getListingsItem / searchListingsItems
  with ``includedData=summaries``; ``ItemSummaryByMarketplace`` in the model above) and
  returns it in the outcome's ref, which the drainer keeps on the listing, so later pushes
  do not read it again. When Amazon shows no product type (a listing created minutes ago
  has empty summaries), ``settings["product_type"]`` is used if set, without being kept;
  otherwise that push is ``failed``, naming the SKU.
* Push, large batches: ONE ``JSON_LISTINGS_FEED`` (header ``sellerId``, ``version`` "2.0",
  ``issueLocale``; one ``PATCH`` message per entry, ``messageId`` = position + 1, the same
  patch as above) through the Feeds API: ``createFeedDocument`` (``application/json``) ->
  PUT the document to the returned presigned ``url`` -> ``createFeed`` -> ``getFeed`` every
  ``feed_poll_seconds`` (default 1, never faster than getFeed's 2/s) until ``DONE``,
  ``FATAL`` or ``CANCELLED``, for at most ``feed_timeout_seconds`` (default 120) ->
  ``getFeedDocument`` of ``resultFeedDocumentId`` -> download the processing report
  (gunzipped when ``compressionAlgorithm`` says GZIP). A message with an ``ERROR`` issue is
  ``failed`` with the issue's text, every other one ``accepted``. Up to 10,000 entries per
  batch (a feed holds up to 25,000 messages).
* Read: a few SKUs (fewer than ``settings["search_threshold"]``, default 3) with ``GET`` on
  the PATCH path and ``includedData=fulfillmentAvailability``; more with
  ``searchListingsItems`` (``GET /listings/2021-08-01/items/{sellerId}?identifiers=<up to
  20 SKUs>&identifiersType=SKU&pageSize=20``, the model's maximum for both;
  ``settings["search_page_size"]`` can lower it). A SKU with a comma cannot be one of
  comma-separated identifiers and is read with ``GET``. Find: the same with
  ``includedData=summaries``. A 404 / a SKU missing from the search means not listed.
* Limits: patchListingsItem 5/s burst 5, getListingsItem 5/s burst 10, searchListingsItems
  5/s burst 5 (the hub's per-channel bucket, 5/s, covers them). The Feeds operations have
  far smaller budgets: createFeedDocument 0.5/s burst 15, createFeed 0.0083/s burst 15,
  getFeed 2/s burst 15, getFeedDocument 0.0222/s burst 10. A feed cycle takes one token of
  each of these from a budget of its own per endpoint and seller (``channels.ratelimit``:
  Redis when configured, so every worker shares it), at 90% of the documented plan. When
  createFeed's budget is spent the batch comes back ``retry`` with ``retry_after`` = the
  wait for the next token, without sending anything. A 429 from SP-API carries no
  Retry-After; the wait is derived from ``x-amzn-RateLimit-Limit``.

Errors in a feed cycle
----------------------
Before ``createFeed`` succeeds nothing was submitted: a failure raises, as a single request
would. Once the feed exists no exception escapes (it may still be applied): a feed still
not finished after ``feed_timeout_seconds``, a ``FATAL`` or ``CANCELLED`` feed, or a getFeed
answered with a 4xx gives every entry ``retry`` (transient getFeed failures are polled
through until the deadline). A ``DONE`` feed whose processing report cannot be fetched
(no getFeedDocument budget before the deadline, a failed download) gives every entry
``accepted``: the read-back then confirms what was applied. In a PATCH batch, a request
failing after earlier entries have an outcome leaves those outcomes and gives the rest
``retry``/``failed`` (see :mod:`channels.adapters.base`).

A feed cycle with its read-back can take ``feed_timeout_seconds`` plus one
searchListingsItems per 20 entries at the hub's rate: the drainer's claim lease
(``OUTBOX_CLAIM_LEASE_SECONDS``) must be longer than that.

Using the SDK against another host
----------------------------------
The SDK is pointed at ``base_url`` (the simulator, a proxy, or a regional endpoint) in
three small steps, because it has no public option for them:

* ``endpoint`` is a plain attribute of its clients; we set it to ``base_url`` and override
  the ``headers`` property, whose ``host`` value assumes an ``https://`` endpoint.
* The LWA token URL is built from the token client's ``scheme``/``host``/``path``
  attributes; :class:`_LwaTokenClient` sets them from ``settings["lwa_token_url"]``
  (default: Amazon's for Amazon hosts, ``{base_url}/auth/o2/token`` otherwise) and adds the
  URL to the SDK's token cache key so two token services never share a cached token.
* The clients send through ``_transport``; we replace it with one that uses the adapter's
  httpx client, so every call has the adapter's explicit timeout and the same mapping of
  429/5xx/timeouts/4xx onto ChannelThrottled/ChannelUnavailable/ChannelRejected as every
  other adapter. (Checked against python-amazon-sp-api 2.1; the adapter tests exercise it
  end to end against the simulator.)

The SDK's Feeds client is used for getFeed as it is. Its ``create_feed_document`` and
``get_feed_document`` upload and download through an httpx client of their own (no
timeout of ours, no throttle, no error mapping) and, like ``create_feed``, post the
endpoint's path (and for documents marketplace ids) as body fields; :class:`_FeedsClient`
adds three small operations that send only the documented fields, and the document itself
travels through :meth:`ChannelAdapter._send` without SP-API headers (a presigned URL is its
own authorisation).

What the merchant must fix
--------------------------
:class:`ChannelNeedsAction` (nothing works until the merchant acts) is raised for Login
with Amazon's ``invalid_grant`` (the refresh token is revoked or expired: the app must be
authorized again) and ``invalid_client`` (the app's client id or secret is wrong, e.g.
rotated), and for an SP-API 403, which Amazon answers when the app lacks the role an
operation needs (developer-docs.amazon.com/sp-api/docs/roles-faq; the Listings Items
operations need the Product Listing role) or the seller id is not the one that authorized
it. The LWA error codes and their meaning: Login with Amazon's token documentation
(developer.amazon.com/docs/login-with-amazon/access-token.html and the device token
errors in retrieve-token-other-platforms-cbl-docs.html).

Credentials: ``lwa_app_id``, ``lwa_client_secret``, ``refresh_token`` (``client_id`` /
``client_secret`` are accepted as aliases). Settings: ``seller_id``, ``marketplace_id``,
optional ``product_type`` (used only for listings whose own product type Amazon does not
show), optional ``fulfillment_channel_code`` (default ``DEFAULT``),
``lwa_token_url``, ``issue_locale`` (default ``en_US``), ``feed_threshold``,
``feed_poll_seconds``, ``feed_timeout_seconds``, ``search_threshold``,
``search_page_size``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from sp_api.api.feeds.feeds_2021_06_30 import FeedsV20210630
from sp_api.api.listings_items.listings_items_2021_08_01 import ListingsItemsV20210801
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import (
    ApiResponse,
    Client,
    MissingCredentials,
    SellingApiException,
    SellingApiNotFoundException,
    fill_query_params,
    sp_endpoint,
)
from sp_api.base.credential_provider import FromCodeCredentialProvider

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
from foundation import ratelimit

logger = logging.getLogger(__name__)

AMAZON_LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"
# Changes the entry of the given fulfillment_channel_code only (see the module notes).
AVAILABILITY_OP = "merge"
# Login with Amazon errors that only the merchant can fix, and what to do about each.
LWA_ACTIONS = {
    "invalid_grant": "Amazon refresh token revoked: authorize the app again in Seller Central",
    "invalid_client": (
        "Amazon refused the app's LWA client id or secret: copy them again from the app's "
        "settings in Seller Central (Develop Apps)"
    ),
}
FORBIDDEN_ACTION = (
    "Amazon denied access (403): check that the app has the Product Listing role and that "
    "the channel's seller id is the account that authorized it; authorize the app again in "
    "Seller Central"
)
FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json"
FEED_FINAL = frozenset({"DONE", "FATAL", "CANCELLED"})
# searchListingsItems: identifiers per call and page size, both at most 20 in the model.
SEARCH_MAX = 20
# Documented usage plans (requests/s, burst) of the Feeds operations a feed cycle makes.
FEED_OPERATION_LIMITS: dict[str, tuple[float, int]] = {
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
}
# Share of a documented plan the hub allows itself (as the drainer does for the channel).
BUDGET_SHARE = 0.9
DEFAULTS = {
    "feed_threshold": 50,
    "feed_poll_seconds": 1.0,
    "feed_timeout_seconds": 120.0,
    "search_threshold": 3,
    "search_page_size": SEARCH_MAX,
}


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


class _LwaTransport(_AdapterTransport):
    """Login with Amazon's refusals (400/401 with an OAuth ``error`` code) go back to the
    SDK, which raises AuthorizationError with the code; any other body is an error here."""

    def __init__(self, adapter: AmazonAdapter) -> None:
        super().__init__(adapter, passthrough=(400, 401))

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = super().request(method, url, **kwargs)
        if response.status_code in self._passthrough:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not body.get("error"):
                raise self._adapter._error_for_response(response, f"{method} {urlsplit(url).path}")
        return response


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


class _HostHeader(Client):
    @property
    def headers(self) -> dict[str, str]:
        headers = super().headers
        headers["host"] = urlsplit(self.endpoint).netloc
        return headers


class _ListingsClient(_HostHeader, ListingsItemsV20210801):
    pass


class _FeedsClient(_HostHeader, FeedsV20210630):
    """The SDK's Feeds client plus three operations that send only documented fields and
    leave the document transfer to the adapter (see the module notes)."""

    @sp_endpoint("/feeds/2021-06-30/documents", method="POST")
    def create_document(self, content_type: str, **kwargs: Any) -> ApiResponse:
        return self._request(
            kwargs.pop("path"), data={"contentType": content_type, **kwargs}, add_marketplace=False
        )

    @sp_endpoint("/feeds/2021-06-30/feeds", method="POST")
    def create_listings_feed(
        self, document_id: str, marketplace_ids: list[str], **kwargs: Any
    ) -> ApiResponse:
        body = {
            "feedType": FEED_TYPE,
            "marketplaceIds": marketplace_ids,
            "inputFeedDocumentId": document_id,
        }
        return self._request(kwargs.pop("path"), data={**body, **kwargs}, add_marketplace=False)

    @sp_endpoint("/feeds/2021-06-30/documents/{}", method="GET")
    def document(self, document_id: str, **kwargs: Any) -> ApiResponse:
        return self._request(
            fill_query_params(kwargs.pop("path"), document_id),
            params=kwargs,
            add_marketplace=False,
        )


class AmazonAdapter(ChannelAdapter):
    kind = "amazon"
    # One JSON_LISTINGS_FEED per batch from feed_threshold entries on (a feed takes up to
    # 25,000 messages); smaller batches are patched SKU by SKU.
    max_batch = 10_000
    rate_per_second = 5.0
    burst = 5

    def _setting(self, name: str) -> str:
        value = self.settings.get(name)
        if not value:
            raise ChannelRejected(f"amazon: settings need {name!r}")
        return str(value)

    def _number(self, name: str) -> float:
        value = self.settings.get(name)
        try:
            return float(DEFAULTS[name] if value is None or value == "" else value)
        except (TypeError, ValueError):
            raise ChannelRejected(f"amazon: settings[{name!r}] must be a number") from None

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

    def _sdk_client(self, client_class: type[Client], *, passthrough: tuple[int, ...]) -> Any:
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
            client = client_class(
                credentials=credentials,
                credential_providers=[FromCodeCredentialProvider],
                auth_token_client_class=functools.partial(
                    _LwaTokenClient,
                    token_url=self.token_url,
                    transport=_LwaTransport(self),
                ),
            )
        except MissingCredentials as exc:
            raise ChannelRejected(f"amazon: {exc}") from exc
        client._transport.close()
        client._transport = _AdapterTransport(self, passthrough=passthrough)
        client.endpoint = self.base_url
        return client

    @functools.cached_property
    def _listings(self) -> _ListingsClient:
        return self._sdk_client(_ListingsClient, passthrough=(404,))

    @functools.cached_property
    def _feeds(self) -> _FeedsClient:
        return self._sdk_client(_FeedsClient, passthrough=())

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call one Listings Items operation (see :meth:`_sdk_call`)."""
        return self._sdk_call(self._listings, operation, *args, **kwargs)

    def _sdk_call(self, client: Client, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call one SDK operation; SDK errors become ChannelErrors (404 passes through)."""
        try:
            return getattr(client, operation)(*args, **kwargs)
        except SellingApiNotFoundException:
            raise
        except AuthorizationError as exc:
            message = f"amazon: LWA refused the credentials: {exc.error_code} {exc.message}"
            action = LWA_ACTIONS.get(str(exc.error_code))
            if action:
                raise ChannelNeedsAction(
                    message, action=action, status_code=exc.status_code
                ) from exc
            raise ChannelRejected(message, status_code=exc.status_code) from exc
        except SellingApiException as exc:
            raise ChannelRejected(f"amazon: {operation}: {exc.error}") from exc

    def _error_for_response(self, response: httpx.Response, what: str) -> ChannelError:
        error = super()._error_for_response(response, what)
        if response.status_code == 403:
            # SP-API's 403 is a role or seller mismatch, not an expired token (LWA says
            # that, above): say which.
            return ChannelNeedsAction(str(error), action=FORBIDDEN_ACTION, status_code=403)
        return error

    def _default_retry_after(self, response: httpx.Response) -> float | None:
        try:
            limit = float(response.headers.get("x-amzn-RateLimit-Limit", ""))
        except ValueError:
            limit = 0.0
        if limit > 0:
            return 1.0 / limit
        return super()._default_retry_after(response)

    # -- Feeds operation budgets ----------------------------------------------------------

    def budget_key(self, operation: str) -> str:
        """The hub's bucket for one Feeds operation of this endpoint and seller."""
        return f"amazon:{self.base_url}:{self._setting('seller_id')}:{operation}"

    def _operation_token(self, operation: str, *, max_wait: float) -> float:
        """Take a token of the operation's budget, sleeping up to ``max_wait`` seconds for
        it. Returns 0 when taken, else how long until the next one (nothing is taken)."""
        rate, burst = FEED_OPERATION_LIMITS[operation]
        give_up = time.monotonic() + max_wait
        while True:
            wait = ratelimit.take(
                self.budget_key(operation),
                rate=rate * BUDGET_SHARE,
                burst=max(1, int(burst * BUDGET_SHARE)),
            )
            if not wait:
                return 0.0
            if time.monotonic() + wait > give_up:
                return wait
            time.sleep(wait)

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        ready, outcomes = self._with_product_types(pushes)
        positions = sorted(ready)
        typed = [ready[position] for position in positions]
        if typed and len(pushes) >= self._number("feed_threshold"):
            outcomes.update(zip(positions, self._push_feed(typed), strict=True))
            return [outcomes[position] for position in range(len(pushes))]
        for index, position in enumerate(positions):
            try:
                outcomes[position] = self._patch(typed[index])
            except ChannelNeedsAction:
                raise  # the channel pauses; nothing is spent (drain.py)
            except ChannelError as exc:
                # Nothing was patched yet: the whole call failed (a revoked token, a 403,
                # a throttle), whatever the product type lookup said of other listings.
                if index == 0:
                    raise
                unsent = outcomes_for_error([p.ref for p in typed[index:]], exc)
                outcomes.update(zip(positions[index:], unsent, strict=True))
                break
        return [outcomes[position] for position in range(len(pushes))]

    def _with_product_types(
        self, pushes: Sequence[LevelPush]
    ) -> tuple[dict[int, LevelPush], dict[int, PushOutcome]]:
        """The pushes whose product type is known, and ``failed`` outcomes for the others,
        both by position. Listings without one are read once (``summaries``); the type
        Amazon shows rides on the ref for the drainer to keep (see the module notes)."""
        missing = [push.ref.sku for push in pushes if not push.ref.external_parent_id]
        items = self._items(missing, "summaries") if missing else {}
        ready: dict[int, LevelPush] = {}
        failed: dict[int, PushOutcome] = {}
        for position, push in enumerate(pushes):
            if push.ref.external_parent_id:
                ready[position] = push
                continue
            item = items.get(push.ref.sku)
            if item is None:
                failed[position] = PushOutcome(
                    ref=push.ref,
                    status="failed",
                    error=f"amazon: SKU {push.ref.sku!r} is not listed on Amazon",
                )
                continue
            summary = self._summary(item)
            product_type = str(summary.get("productType") or "")
            if not product_type and not self._fallback_product_type:
                failed[position] = PushOutcome(
                    ref=push.ref,
                    status="failed",
                    error=(
                        f"amazon: SKU {push.ref.sku!r} has no product type on Amazon yet "
                        "(its listing summary names none) and the channel sets no "
                        "product_type"
                    ),
                )
                continue
            ref = dataclasses.replace(
                push.ref,
                external_id=push.ref.external_id or str(summary.get("asin") or ""),
                external_parent_id=product_type,
            )
            ready[position] = dataclasses.replace(push, ref=ref)
        return ready, failed

    def _summary(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item's summary for the channel's marketplace (or its first one)."""
        summaries = [s for s in item.get("summaries") or () if isinstance(s, dict)]
        marketplace = self.settings.get("marketplace_id")
        for summary in summaries:
            if summary.get("marketplaceId") == marketplace:
                return summary
        return summaries[0] if summaries else {}

    @property
    def _fallback_product_type(self) -> str:
        return str(self.settings.get("product_type") or "")

    def _product_type(self, push: LevelPush) -> str:
        product_type = push.ref.external_parent_id or self._fallback_product_type
        if not product_type:
            raise ChannelRejected(f"amazon: SKU {push.ref.sku!r} has no product type")
        return product_type

    def _availability_patch(self, quantity: int) -> dict[str, Any]:
        return {
            "op": AVAILABILITY_OP,
            "path": FULFILLMENT_AVAILABILITY,
            "value": [{"fulfillment_channel_code": self._channel_code, "quantity": quantity}],
        }

    def _patch(self, push: LevelPush) -> PushOutcome:
        body = {
            "productType": self._product_type(push),
            "patches": [self._availability_patch(push.quantity)],
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
            ref=push.ref,
            status="failed",
            error=(
                f"amazon: SKU {push.ref.sku!r} (product type {body['productType']}): "
                f"{status or 'no status'}: {issues}"
            ),
        )

    @property
    def _channel_code(self) -> str:
        return str(self.settings.get("fulfillment_channel_code") or "DEFAULT")

    # -- push: JSON_LISTINGS_FEED ---------------------------------------------------------

    def feed_document(self, pushes: Sequence[LevelPush]) -> bytes:
        """The JSON_LISTINGS_FEED for ``pushes``: message ``n`` is ``pushes[n - 1]``. Its
        PATCH messages take the same ``merge`` as patchListingsItem (the feed schema's
        ``op`` enum, amzn/selling-partner-api-models ``schemas/feeds/
        listings-feed-schema-v2.json``, and the June 2025 changelog)."""
        document = {
            "header": {
                "sellerId": self._setting("seller_id"),
                "version": "2.0",
                "issueLocale": str(self.settings.get("issue_locale") or "en_US"),
            },
            "messages": [
                {
                    "messageId": number,
                    "sku": push.ref.sku,
                    "operationType": "PATCH",
                    "productType": self._product_type(push),
                    "patches": [self._availability_patch(push.quantity)],
                }
                for number, push in enumerate(pushes, start=1)
            ],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    def _push_feed(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        refs = [push.ref for push in pushes]
        document = self.feed_document(pushes)
        timeout = self._number("feed_timeout_seconds")
        rate, _ = FEED_OPERATION_LIMITS["getFeed"]
        interval = max(self._number("feed_poll_seconds"), 1.0 / rate)
        for operation, max_wait in (("createFeedDocument", 2.0), ("createFeed", 0.0)):
            wait = self._operation_token(operation, max_wait=max_wait)
            if wait:
                return _every(
                    refs,
                    "retry",
                    f"amazon: the {operation} budget is used up; next in {wait:.0f}s",
                    retry_after=wait,
                )
        created = self._sdk_call(self._feeds, "create_document", FEED_CONTENT_TYPE).payload or {}
        document_id, upload_url = created.get("feedDocumentId"), created.get("url")
        if not document_id or not upload_url:
            raise ChannelUnavailable(f"amazon: createFeedDocument answered {created!r:.200}")
        self._send("PUT", upload_url, content=document, headers={"Content-Type": FEED_CONTENT_TYPE})
        submitted = (
            self._sdk_call(
                self._feeds,
                "create_listings_feed",
                document_id,
                [self._setting("marketplace_id")],
            ).payload
            or {}
        )
        feed_id = submitted.get("feedId")
        if not feed_id:
            raise ChannelUnavailable(f"amazon: createFeed answered {submitted!r:.200}")
        # The feed exists from here on: it may be applied whatever happens to us, so no
        # exception escapes (see the module notes).
        deadline = time.monotonic() + timeout
        try:
            feed, last_status = self._await_feed(str(feed_id), deadline, interval)
        except ChannelError as exc:
            return _every(refs, "retry", f"amazon: feed {feed_id}: getFeed failed: {exc}")
        if feed is None:
            return _every(
                refs,
                "retry",
                f"amazon: feed {feed_id} still {last_status or 'unknown'} after {timeout:g}s",
            )
        status = feed.get("processingStatus")
        report = self._feed_report(feed, deadline if status == "DONE" else time.monotonic())
        if status != "DONE":
            detail = _report_detail(report)
            return _every(refs, "retry", f"amazon: feed {feed_id} ended {status}{detail}")
        if report is None:
            return _every(refs, "accepted")
        return self._report_outcomes(pushes, str(feed_id), report)

    def _await_feed(
        self, feed_id: str, deadline: float, interval: float
    ) -> tuple[dict[str, Any] | None, str]:
        """The feed once it is over, or (None, the last status seen) at the deadline; getFeed
        every ``interval`` seconds. Transient getFeed failures are polled through; a
        ChannelRejected is raised."""
        last_status = ""
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(interval, remaining))
            if self._operation_token("getFeed", max_wait=max(0.0, deadline - time.monotonic())):
                break
            try:
                feed = self._sdk_call(self._feeds, "get_feed", feed_id).payload or {}
            except ChannelRejected:
                raise
            except ChannelError as exc:
                logger.info("amazon: getFeed %s failed, polling on: %s", feed_id, exc)
                continue
            last_status = str(feed.get("processingStatus") or "")
            if last_status in FEED_FINAL:
                return feed, last_status
        return None, last_status

    def _feed_report(self, feed: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """The feed's processing report; None when it cannot be had by ``deadline``."""
        document_id = feed.get("resultFeedDocumentId")
        if not document_id:
            return None
        wait = self._operation_token(
            "getFeedDocument", max_wait=max(0.0, deadline - time.monotonic())
        )
        if wait:
            logger.warning(
                "amazon: no getFeedDocument budget for feed %s's report for %.0fs; the "
                "read-back decides",
                feed.get("feedId"),
                wait,
            )
            return None
        try:
            located = self._sdk_call(self._feeds, "document", str(document_id)).payload or {}
            content = self._send("GET", str(located["url"])).content
            if str(located.get("compressionAlgorithm") or "").upper() == "GZIP":
                content = gzip.decompress(content)
            report = json.loads(content)
        except (ChannelError, KeyError, OSError, ValueError) as exc:
            logger.warning(
                "amazon: feed %s's processing report is unavailable (%s); the read-back decides",
                feed.get("feedId"),
                exc,
            )
            return None
        return report if isinstance(report, dict) else None

    @staticmethod
    def _report_outcomes(
        pushes: Sequence[LevelPush], feed_id: str, report: dict[str, Any]
    ) -> list[PushOutcome]:
        errors: dict[Any, list[str]] = defaultdict(list)
        for issue in report.get("issues") or ():
            if isinstance(issue, dict) and issue.get("severity") == "ERROR":
                errors[issue.get("messageId")].append(
                    f"{issue.get('code', '')}: {issue.get('message', '')}"
                )
        if errors.get(None):
            logger.warning("amazon: feed %s reported: %s", feed_id, "; ".join(errors[None]))
        outcomes = []
        for number, push in enumerate(pushes, start=1):
            found = errors.get(number)
            if found:
                error = f"amazon: feed {feed_id}: {push.ref.sku}: {'; '.join(found)}"
                outcomes.append(PushOutcome(ref=push.ref, status="failed", error=error))
            else:
                outcomes.append(PushOutcome(ref=push.ref, status="accepted"))
        return outcomes

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

    def _items(self, skus: Sequence[str], included: str) -> dict[str, dict[str, Any]]:
        """Listings items by SKU (SKUs the channel does not list are absent)."""
        unique = list(dict.fromkeys(skus))
        searched = [sku for sku in unique if "," not in sku]
        if len(unique) < self._number("search_threshold"):
            searched = []
        alone = [sku for sku in unique if sku not in set(searched)]
        page_size = max(1, min(SEARCH_MAX, int(self._number("search_page_size"))))
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunked(searched, page_size):
            response = self._call(
                "search_listings_items",
                self._setting("seller_id"),
                marketplaceIds=self._setting("marketplace_id"),
                identifiers=",".join(chunk),
                identifiersType="SKU",
                includedData=included,
                pageSize=page_size,
            )
            wanted = set(chunk)
            for item in (response.payload or {}).get("items") or ():
                if isinstance(item, dict) and item.get("sku") in wanted:
                    found.setdefault(item["sku"], item)
        for sku in alone:
            item = self._get(sku, included)
            if item is not None:
                found[sku] = item
        return found

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        items = self._items([ref.sku for ref in refs], "fulfillmentAvailability")
        levels: dict[str, int | None] = {}
        for ref in refs:
            item = items.get(ref.sku)
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
        for sku, item in self._items(skus, "summaries").items():
            summary = self._summary(item)
            found[sku] = ListingRef(
                sku=sku,
                external_id=str(summary.get("asin") or ""),
                external_parent_id=str(summary.get("productType") or ""),
            )
        return found


def _every(
    refs: Sequence[ListingRef], status: Any, error: str = "", retry_after: float | None = None
) -> list[PushOutcome]:
    return [
        PushOutcome(ref=ref, status=status, error=error, retry_after=retry_after) for ref in refs
    ]


def _report_detail(report: dict[str, Any] | None) -> str:
    if not report:
        return ""
    messages = [
        str(issue.get("message"))
        for issue in report.get("issues") or ()
        if isinstance(issue, dict) and issue.get("severity") == "ERROR"
    ]
    return f": {'; '.join(messages[:3])}" if messages else ""
