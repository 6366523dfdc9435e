"""Simulated Amazon seller: SP-API Listings Items, Login with Amazon, an SQS queue.

Below ``<sim>/amazon/<store>``:

* ``PATCH /listings/2021-08-01/items/<sellerId>/<sku>?marketplaceIds=...``: a JSON patch
  document on ``/attributes/fulfillment_availability``: ``replace``/``add`` set the whole
  attribute (lead time, restock date and other channel codes left out are gone),
  ``merge`` changes only the fields of the entries it names, ``delete`` removes entries
  (see :mod:`simulator.kinds.amazon_listings`). The ``DEFAULT`` quantity is the store's
  level. Answers ``{"sku", "status": "ACCEPTED", "submissionId", "issues": []}``, or
  ``INVALID`` with issues (unknown SKU, bad shape, a product type that is not the
  listing's: code ``4000003``). Another seller id is a 403, a missing ``marketplaceIds``
  a 400.
* ``GET`` on the same path with ``includedData`` (``summaries`` with the listing's own
  ``productType``, ``fulfillmentAvailability`` with every channel code, ``attributes``
  with ``fulfillment_availability`` as stored); an unknown SKU is a 404.
* ``GET /listings/2021-08-01/items/<sellerId>?marketplaceIds=...`` (searchListingsItems):
  ``identifiers`` (comma separated, at most 20) with ``identifiersType=SKU``, or every
  listing; ``pageSize`` up to 20 (default 10), ``pageToken`` from ``pagination.nextToken``.
  Answers ``{"numberOfResults", "items", "pagination"?}``; unknown SKUs are simply absent.
* The Feeds API for ``JSON_LISTINGS_FEED`` (createFeedDocument, the upload, createFeed,
  getFeed, getFeedDocument): see :mod:`simulator.kinds.amazon_feeds`.
* ``POST /auth/o2/token``: LWA token exchange (``refresh_token`` and
  ``client_credentials`` grants). API calls need an ``x-amz-access-token`` of LWA's form
  (``Atza|...``); any such token is accepted, so a hub's cached token survives a simulator
  restart. A store created with ``credentials`` checks the client id, secret and refresh
  token at the token endpoint.
* ``POST /sqs``: the store's notification queue (see :mod:`simulator.sqs`).
* ``PUT|GET /_simulator/listings`` (simulator only): each listing's product type and
  fulfillment_availability entries (see :mod:`simulator.kinds.amazon_listings`).

Rate limits as documented, one bucket per operation: patchListingsItem (``patch``) 5/s
burst 5, getListingsItem (``get``) 5/s burst 10, searchListingsItems (``search``) 5/s burst
5, createFeedDocument 0.5/s burst 15, createFeed 0.0083/s burst 15, getFeed 2/s burst 15,
getFeedDocument 0.0222/s burst 10 (buckets named after the operations). A 429 carries
``x-amzn-RateLimit-Limit`` (and, for the hub's convenience, Retry-After).

Events become SP-API notifications put on the queue: ``ORDER_CHANGE`` (order level, with
``Summary.OrderStatus`` Unshipped / Canceled / Shipped and ``OrderItems``) and
``LISTINGS_ITEM_MFN_QUANTITY_CHANGE`` for ``inventory.level``. A redelivery is another
queue message with the same ``NotificationMetadata.NotificationId``.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs

from simulator.http import Request, Response, format_seconds, json_response
from simulator.kinds import amazon_listings
from simulator.kinds.amazon_feeds import NOT_FOUND_CODE, FeedsApi
from simulator.kinds.amazon_listings import (
    apply_availability,
    availability,
    availability_changes,
    issue,
    product_type,
    product_type_issues,
)
from simulator.kinds.base import (
    Call,
    Delivery,
    Event,
    KindApi,
    Route,
    compact_json,
    require_order,
)
from simulator.ratelimit import Limit
from simulator.sqs import handle_sqs
from simulator.state import Store, stable_id

LISTINGS = ("listings", "2021-08-01", "items")
FEEDS = ("feeds", "2021-06-30")
# searchListingsItems: most identifiers per call, and the page size bounds.
MAX_IDENTIFIERS = 20
MAX_PAGE_SIZE = 20
DEFAULT_PAGE_SIZE = 10
ERROR_CODES = {
    400: "InvalidInput",
    403: "Unauthorized",
    404: "NotFound",
    413: "RequestTooLarge",
    429: "QuotaExceeded",
    500: "InternalFailure",
    503: "ServiceUnavailable",
}
ORDER_STATUSES = {
    "order.created": ("Unshipped", "Order placed"),
    "order.cancelled": ("Canceled", "Order canceled by buyer"),
    "order.fulfilled": ("Shipped", "Order shipped"),
}


def _iso(moment: Any) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class AmazonApi(KindApi):
    kind = "amazon"
    default_limits = {
        "patch": Limit(rate=5.0, burst=5.0),
        "get": Limit(rate=5.0, burst=10.0),
        "search": Limit(rate=5.0, burst=5.0),
        "createFeedDocument": Limit(rate=0.5, burst=15.0),
        "createFeed": Limit(rate=0.0083, burst=15.0),
        "getFeed": Limit(rate=2.0, burst=15.0),
        "getFeedDocument": Limit(rate=0.0222, burst=10.0),
    }
    supported_events = frozenset({*ORDER_STATUSES, "inventory.level"})

    def __init__(self) -> None:
        item = (*LISTINGS, "{seller}", "{sku}")
        s3_document = ("_s3", "feed-documents", "{document}")
        self.feeds = FeedsApi(self.error)
        feeds = self.feeds
        self.routes = (
            Route("PATCH", item, self._patch, "write", "patch"),
            Route("GET", item, self._get, "read", "get"),
            Route("GET", (*LISTINGS, "{seller}"), self._search, "read", "search"),
            Route(
                "POST",
                (*FEEDS, "documents"),
                feeds.create_document,
                "write",
                "createFeedDocument",
            ),
            Route(
                "GET",
                (*FEEDS, "documents", "{document}"),
                feeds.get_document,
                "read",
                "getFeedDocument",
            ),
            Route("POST", (*FEEDS, "feeds"), feeds.create_feed, "write", "createFeed"),
            Route("GET", (*FEEDS, "feeds", "{feed}"), feeds.get_feed, "read", "getFeed"),
            Route("PUT", s3_document, feeds.upload, "aux", None, authenticated=False),
            Route("GET", s3_document, feeds.download, "aux", None, authenticated=False),
            Route(
                "PUT", ("_simulator", "feeds"), feeds.configure, "aux", None, authenticated=False
            ),
            Route("GET", ("_simulator", "feeds"), feeds.describe, "aux", None, authenticated=False),
            Route(
                "PUT",
                ("_simulator", "listings"),
                amazon_listings.configure,
                "aux",
                None,
                authenticated=False,
            ),
            Route(
                "GET",
                ("_simulator", "listings"),
                amazon_listings.describe,
                "aux",
                None,
                authenticated=False,
            ),
            Route("POST", ("auth", "o2", "token"), self._token, "aux", None, authenticated=False),
            Route("POST", ("sqs",), self._sqs, "aux", None, authenticated=False),
            Route("POST", ("sqs", "{queue}"), self._sqs, "aux", None, authenticated=False),
        )

    def authenticate(self, store: Store, request: Request) -> Response | None:
        if not request.header("x-amz-access-token").startswith("Atza|"):
            return self.error(403, "Access to requested resource is denied.", "Unauthorized")
        return None

    def error(self, status: int, message: str, code: str = "") -> Response:
        code = code if code in ERROR_CODES.values() else ERROR_CODES.get(status, "InternalFailure")
        return json_response(
            status, {"errors": [{"code": code, "message": message, "details": ""}]}
        )

    def throttled(self, store: Store, bucket: str, wait: float) -> Response:
        response = self.error(429, "You exceeded your quota for the requested resource.")
        response.headers["x-amzn-RateLimit-Limit"] = str(store.buckets[bucket].limit.rate)
        response.headers["Retry-After"] = format_seconds(wait)
        return response

    def listing(self, store: Store, sku: str) -> dict[str, str]:
        # The hub keeps an Amazon listing's product type in external_parent_id.
        return {
            "external_id": self._asin(store, sku),
            "external_parent_id": product_type(store, sku),
            "external_location_id": "",
        }

    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        credentials = store.credentials
        return {
            "settings": {
                "base_url": base_url,
                "seller_id": store.seller_id,
                "marketplace_id": store.marketplace_id,
                "product_type": store.product_type,
                "lwa_token_url": f"{base_url}/auth/o2/token",
                "sqs_endpoint_url": f"{base_url}/sqs",
                "sqs_queue_url": f"{base_url}/sqs/{store.queue.name}",
            },
            "credentials": {
                "lwa_app_id": credentials.get("lwa_app_id")
                or f"amzn1.application-oa2-client.sim{store.name}",
                "lwa_client_secret": credentials.get("lwa_client_secret") or "sim-client-secret",
                "refresh_token": credentials.get("refresh_token") or f"Atzr|sim-{store.name}",
            },
        }

    def make_secret(self) -> str:
        # Amazon signs nothing (trust rests on IAM); kept for a uniform store shape.
        return uuid.uuid4().hex

    def order_id(self, store: Store, number: int) -> str:
        digits = str(stable_id(store.name, "order", str(number))) + f"{number:07d}"
        return f"111-{digits[:7]}-{digits[-7:]}"

    @staticmethod
    def _asin(store: Store, sku: str) -> str:
        return f"B0{stable_id(store.name, 'asin', sku) % 10**8:08d}"

    # -- Listings Items -------------------------------------------------------------------

    def _check_call(self, store: Store, request: Request, call: Call) -> Response | None:
        if not store.accepts_seller(call.params["seller"]):
            return self.error(403, "Access to requested resource is denied.")
        if not request.param("marketplaceIds"):
            return self.error(400, "Missing required 'marketplaceIds'.")
        return None

    def _patch(self, store: Store, request: Request, call: Call) -> Response:
        refused = self._check_call(store, request, call)
        if refused is not None:
            return refused
        sku = call.params["sku"]
        call.items = 1
        body = request.json()
        if not isinstance(body, dict):
            body = {}
        changes, issues = availability_changes(body.get("patches"))
        with store.lock:
            issues = product_type_issues(store, sku, body.get("productType")) + issues
            if sku not in store.levels:
                issues.append(issue(f"SKU '{sku}' not found for seller.", code=NOT_FOUND_CODE))
            if not issues and changes:
                if call.drop_writes:
                    store.stats.writes_dropped += 1
                else:
                    apply_availability(store, sku, changes)
        return json_response(
            200,
            {
                "sku": sku,
                "status": "INVALID" if issues else "ACCEPTED",
                "submissionId": uuid.uuid4().hex,
                "issues": issues,
            },
        )

    def _get(self, store: Store, request: Request, call: Call) -> Response:
        refused = self._check_call(store, request, call)
        if refused is not None:
            return refused
        sku = call.params["sku"]
        with store.lock:
            if sku not in store.levels:
                return self.error(
                    404, f"SKU '{sku}' not found in marketplace {store.marketplace_id}", "NotFound"
                )
            return json_response(200, self._item(store, sku, _included(request)))

    def _search(self, store: Store, request: Request, call: Call) -> Response:
        refused = self._check_call(store, request, call)
        if refused is not None:
            return refused
        identifiers = request.param("identifiers")
        identifiers_type = request.param("identifiersType")
        wanted = identifiers.split(",") if identifiers else []
        if wanted and not identifiers_type:
            return self.error(400, "'identifiersType' is required when 'identifiers' is given.")
        if identifiers_type and not wanted:
            return self.error(400, "'identifiers' is required when 'identifiersType' is given.")
        if identifiers_type and identifiers_type != "SKU":
            return self.error(400, f"The simulator searches by SKU, not {identifiers_type!r}.")
        if len(wanted) > MAX_IDENTIFIERS:
            return self.error(400, f"'identifiers' holds at most {MAX_IDENTIFIERS} values.")
        try:
            page_size = int(request.param("pageSize") or DEFAULT_PAGE_SIZE)
            offset = int(base64.urlsafe_b64decode(request.param("pageToken") or "MA==").decode())
        except ValueError:
            return self.error(400, "Invalid 'pageSize' or 'pageToken'.")
        if not 1 <= page_size <= MAX_PAGE_SIZE or offset < 0:
            return self.error(400, f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}.")
        with store.lock:
            if wanted:
                skus = [sku for sku in dict.fromkeys(wanted) if sku in store.levels]
            else:
                skus = sorted(store.levels)
            included = _included(request)
            items = [self._item(store, sku, included) for sku in skus[offset : offset + page_size]]
        answer: dict[str, Any] = {"numberOfResults": len(skus), "items": items}
        pagination = {}
        if offset + page_size < len(skus):
            pagination["nextToken"] = _page_token(offset + page_size)
        if offset > 0:
            pagination["previousToken"] = _page_token(max(0, offset - page_size))
        if pagination:
            answer["pagination"] = pagination
        return json_response(200, answer)

    def _item(self, store: Store, sku: str, included: set[str]) -> dict[str, Any]:
        """One listing as getListingsItem shows it (call with ``store.lock`` held)."""
        item: dict[str, Any] = {"sku": sku}
        if "summaries" in included and not product_type(store, sku):
            item["summaries"] = []
        elif "summaries" in included:
            item["summaries"] = [
                {
                    "marketplaceId": store.marketplace_id,
                    "asin": self._asin(store, sku),
                    "productType": product_type(store, sku),
                    "conditionType": "new_new",
                    "status": ["BUYABLE", "DISCOVERABLE"],
                    "itemName": sku,
                    "createdDate": _iso(store.created_at),
                    "lastUpdatedDate": _iso(store.created_at),
                }
            ]
        entries = availability(store, sku)
        if "attributes" in included:
            item["attributes"] = {"fulfillment_availability": entries}
        if "fulfillmentAvailability" in included:
            item["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": entry["fulfillment_channel_code"]}
                | ({"quantity": entry["quantity"]} if "quantity" in entry else {})
                for entry in entries
            ]
        return item

    # -- Login with Amazon ----------------------------------------------------------------

    def _token(self, store: Store, request: Request, call: Call) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        grant = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        expected_id = store.credentials.get("lwa_app_id")
        expected_secret = store.credentials.get("lwa_client_secret")
        if (
            not client_id
            or not client_secret
            or (expected_id and client_id != expected_id)
            or (expected_secret and client_secret != expected_secret)
        ):
            return json_response(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if grant == "refresh_token":
            refresh = form.get("refresh_token")
            expected_refresh = store.credentials.get("refresh_token")
            if not refresh or (expected_refresh and refresh != expected_refresh):
                return json_response(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "The request has an invalid grant parameter : "
                        "refresh_token",
                    },
                )
        elif grant != "client_credentials":
            return json_response(
                400,
                {"error": "unsupported_grant_type", "error_description": f"{grant!r}"},
            )
        return json_response(
            200,
            {
                "access_token": f"Atza|sim-{secrets.token_urlsafe(24)}",
                "refresh_token": form.get("refresh_token", ""),
                "token_type": "bearer",
                "expires_in": 3600,
            },
        )

    # -- SQS ------------------------------------------------------------------------------

    def _sqs(self, store: Store, request: Request, call: Call) -> Response:
        queue_url = f"{request.root_url}/amazon/{store.name}/sqs/{store.queue.name}"
        return handle_sqs(store.queue, request, queue_url)

    # -- notifications --------------------------------------------------------------------

    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        if event.type == "inventory.level":
            payload: dict[str, Any] = {
                "SellerId": store.seller_id,
                "FulfillmentChannelCode": "DEFAULT",
                "Sku": event.sku,
                "Quantity": event.quantity,
            }
            return [self._notification("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", payload, "", event)]
        if event.type not in ORDER_STATUSES:
            raise ValueError(
                f"Amazon sends no ORDER_CHANGE for {event.type}; send a raw event instead"
            )
        order = require_order(event)
        status, reason = ORDER_STATUSES[event.type]
        shipped = event.type == "order.fulfilled"
        items = [
            {
                "OrderItemId": line.line_id,
                "SupplySourceId": None,
                "ItemFulfillmentLocation": None,
                "SellerSKU": line.sku,
                "Quantity": line.quantity,
                "QuantityShipped": line.quantity if shipped else 0,
                "IsBuyerRequestedCancel": event.type == "order.cancelled",
            }
            for line in event.lines
        ]
        payload = {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": store.seller_id,
                "AmazonOrderId": order.order_id,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": _iso(event.occurred_at),
                    "ChangeReason": reason,
                },
                "Summary": {
                    "MarketplaceId": store.marketplace_id,
                    "OrderStatus": status,
                    "PurchaseDate": _iso(order.created_at),
                    "FulfillmentType": "MFN",
                    "OrderType": "StandardOrder",
                    "NumberOfItemsShipped": sum(i["QuantityShipped"] for i in items),
                    "NumberOfItemsUnshipped": sum(
                        i["Quantity"] - i["QuantityShipped"] for i in items
                    ),
                    "OrderItems": items,
                },
            }
        }
        return [self._notification("ORDER_CHANGE", payload, order.order_id, event)]

    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        body = compact_json(payload)
        return Delivery(
            event_id=str(uuid.uuid4()),
            topic=topic,
            order_id="",
            render=lambda attempt: (body, {}),
            sink="queue",
        )

    @staticmethod
    def _notification(
        notification_type: str, payload: dict[str, Any], order_id: str, event: Event
    ) -> Delivery:
        notification_id = str(uuid.uuid4())
        body = compact_json(
            {
                "NotificationVersion": "1.0",
                "NotificationType": notification_type,
                "PayloadVersion": "1.0",
                "EventTime": _iso(event.occurred_at),
                "Payload": payload,
                "NotificationMetadata": {
                    "ApplicationId": "amzn1.sellerapps.app.simulator",
                    "SubscriptionId": str(uuid.uuid5(uuid.NAMESPACE_URL, notification_type)),
                    "PublishTime": _iso(event.occurred_at),
                    "NotificationId": notification_id,
                },
            }
        )
        return Delivery(
            event_id=notification_id,
            topic=notification_type,
            order_id=order_id,
            render=lambda attempt: (body, {}),
            sink="queue",
        )


def _included(request: Request) -> set[str]:
    return set((request.param("includedData") or "summaries").split(","))


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()
