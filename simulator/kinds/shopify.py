"""Simulated Shopify store: the GraphQL Admin API subset the hub uses, and webhooks.

API: ``POST <sim>/shopify/<store>/admin/api/<version>/graphql.json`` with header
``X-Shopify-Access-Token``. The simulator is no GraphQL engine: it recognises the three
operations the adapter sends by their root field and reads their inputs from the
``variables`` (or literal arguments), answering a fixed superset of the fields selected:

* ``inventorySetQuantities(input: $input) @idempotent(key: "...")``: absolute quantities,
  all or nothing. ``changeFromQuantity`` (when not null) must equal the current quantity,
  else the user error ``CHANGE_FROM_QUANTITY_STALE`` and nothing is applied. At most 250
  quantities (``MAX_INPUT_SIZE_EXCEEDED``). A repeated idempotency key returns the first
  answer without applying again (a write dropped by the ``drop_writes`` fault is
  forgotten, key included). ``inventoryAdjustmentGroup`` is null when nothing changed.
* ``nodes(ids: $ids)`` on InventoryItem with ``inventoryLevel(locationId: $locationId)``.
* ``inventoryItems(first: $first, query: "sku:\\"A\\" OR sku:\\"B\\"")``.

Rate limit: the GraphQL cost bucket (1000 points, restoring 100/s: the Standard plan's
restore rate; bucket size from the older documentation). A mutation costs 10 points, a read
1 + 2 per item asked for. A throttled call answers HTTP 200 with ``errors[{"message":
"Throttled"}]`` and ``extensions.cost.throttleStatus``, as Shopify does.

Store options (``POST /_control/stores``):

* ``locations``: ``{"<location id>": {"SKU": n}}``, locations besides the store's own
  (``location_id``). An ``inventory.level`` event then sends one
  ``inventory_levels/update`` per location, as Shopify does for a multi-location shop;
  the others carry their own levels (0 when not given).
* ``idempotency_errors``: ``{"code": "IDEMPOTENCY_CONCURRENT_REQUEST" |
  "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "count": n}``: the next n mutations answer that
  user error and apply nothing. A key refused with PREVIOUS_ATTEMPT_FAILED stays spent:
  every later request with it gets the same answer (Shopify: "retry with a new
  idempotency key").
* ``shared_skus``: ``{"SKU": n}``: n more inventory items carry the same SKU (Shopify
  does not keep SKUs unique); they come first in ``inventoryItems`` answers, which are
  paged (``first``/``after``, ``pageInfo{hasNextPage endCursor}``).

Webhooks: ``orders/create``, ``orders/cancelled``, ``orders/fulfilled`` (the REST Order
resource), ``refunds/create`` (Refund with ``refund_line_items[].restock_type``) and
``inventory_levels/update`` (no SKU, by ``inventory_item_id``), with the X-Shopify-* headers
including ``X-Shopify-Event-Id``; redeliveries keep Webhook-Id and Event-Id.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from channels.webhooks.signing import sign_shopify
from simulator.http import Request, Response, json_response
from simulator.kinds.base import (
    Call,
    Delivery,
    Event,
    KindApi,
    OperationClass,
    Route,
    compact_json,
    require_order,
)
from simulator.ratelimit import Limit
from simulator.state import Store, now, stable_id

API_VERSION = "2026-01"
MAX_INPUT_SIZE = 250
MUTATION_COST = 10
QUANTITY_NAMES = frozenset({"available", "on_hand"})
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
_TOKEN = r'(\$\w+|"(?:[^"\\]|\\.)*"|-?\d+)'
# Shopify's idempotency user errors and their messages (InventorySetQuantitiesUserErrorCode).
IDEMPOTENCY_ERRORS = {
    "IDEMPOTENCY_CONCURRENT_REQUEST": "This request is currently in progress, please try again.",
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": (
        "A previous request with this idempotency key failed. Retry with a new idempotency key."
    ),
}
_SKU_TERM = re.compile(r'sku:(?:"((?:[^"\\]|\\.)*)"|([^\s()]+))')


def gid(kind: str, value: int | str) -> str:
    return f"gid://shopify/{kind}/{value}"


def _value(token: str, variables: dict[str, Any]) -> Any:
    if token.startswith("$"):
        return variables.get(token[1:])
    return json.loads(token)


def argument(query: str, field: str, name: str, variables: dict[str, Any]) -> Any:
    """The value of ``field(name: ...)`` in ``query``: a variable or a scalar literal."""
    match = re.search(rf"\b{field}\s*\(([^)]*)\)", query)
    if not match:
        return None
    found = re.search(rf"\b{name}\s*:\s*{_TOKEN}", match.group(1))
    return _value(found.group(1), variables) if found else None


def idempotency_key(query: str, variables: dict[str, Any]) -> str | None:
    found = re.search(rf"@idempotent\s*\(\s*key\s*:\s*{_TOKEN}\s*\)", query)
    return str(_value(found.group(1), variables)) if found else None


def _graphql_operation(request: Request) -> OperationClass:
    return "write" if b"inventorySetQuantities" in request.body else "read"


def _quantities(quantity: int | None) -> list[dict[str, Any]]:
    return [{"name": "available", "quantity": quantity}]


class ShopifyApi(KindApi):
    kind = "shopify"
    default_limits = {"graphql": Limit(rate=100.0, burst=1000.0)}

    def __init__(self) -> None:
        self.routes = (
            Route(
                "POST",
                ("admin", "api", "*", "graphql.json"),
                self._graphql,
                operation=_graphql_operation,
                bucket=None,
            ),
        )

    def authenticate(self, store: Store, request: Request) -> Response | None:
        token = request.header("x-shopify-access-token")
        expected = store.credentials.get("access_token")
        if not token or (expected and token != expected):
            return self.error(
                401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
            )
        return None

    def error(self, status: int, message: str, code: str = "") -> Response:
        return json_response(status, {"errors": message})

    def store_options(self, data: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        locations = data.get("locations") or {}
        if not isinstance(locations, dict) or not all(
            isinstance(levels, dict) and all(isinstance(q, int) for q in levels.values())
            for levels in locations.values()
        ):
            raise ValueError('locations must be {"<location id>": {"SKU": quantity}}')
        options["locations"] = {str(k): dict(v) for k, v in locations.items()}
        errors = data.get("idempotency_errors")
        if errors is not None:
            if (
                not isinstance(errors, dict)
                or errors.get("code") not in IDEMPOTENCY_ERRORS
                or not isinstance(errors.get("count"), int)
                or errors["count"] < 0
            ):
                raise ValueError(
                    "idempotency_errors must be {code: one of "
                    f"{', '.join(sorted(IDEMPOTENCY_ERRORS))}, count: n >= 0}}"
                )
            options["idempotency_errors"] = {"code": errors["code"], "left": errors["count"]}
        shared = data.get("shared_skus") or {}
        if not isinstance(shared, dict) or not all(
            isinstance(n, int) and 0 <= n <= 100 for n in shared.values()
        ):
            raise ValueError('shared_skus must be {"SKU": extra items (0-100)}')
        options["shared_skus"] = {str(k): v for k, v in shared.items()}
        return options

    def listing(self, store: Store, sku: str) -> dict[str, str]:
        return {
            "external_id": str(store.id_for("item", sku)),
            "external_parent_id": "",
            "external_location_id": store.location_id,
        }

    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        return {
            "settings": {
                "base_url": base_url,
                "location_id": store.location_id,
                "api_version": API_VERSION,
                "shop_domain": f"{store.name}.myshopify.com",
            },
            "credentials": {
                "access_token": store.credentials.get("access_token") or f"shpat_sim_{store.name}"
            },
        }

    def make_secret(self) -> str:
        return uuid.uuid4().hex

    def order_id(self, store: Store, number: int) -> str:
        return str(stable_id(store.name, "order", str(number)))

    # -- GraphQL --------------------------------------------------------------------------

    def _graphql(self, store: Store, request: Request, call: Call) -> Response:
        document = request.json()
        query = str(document.get("query") or "")
        variables = document.get("variables") or {}
        if re.search(r"\binventorySetQuantities\s*\(", query):
            operation, cost = self._set_quantities, MUTATION_COST
            call.items = len(((variables.get("input") or {}).get("quantities")) or [])
        elif re.search(r"\bnodes\s*\(", query):
            ids = argument(query, "nodes", "ids", variables) or []
            operation, cost = self._nodes, 1 + 2 * len(ids)
        elif re.search(r"\binventoryItems\s*\(", query):
            first = argument(query, "inventoryItems", "first", variables) or 0
            operation, cost = self._inventory_items, 2 + 2 * int(first)
        else:
            return json_response(
                200,
                {
                    "errors": [
                        {
                            "message": "The simulator only knows inventorySetQuantities, "
                            "nodes and inventoryItems",
                            "extensions": {"code": "undefinedField"},
                        }
                    ]
                },
            )
        bucket = store.buckets["graphql"]
        wait = bucket.take(cost)
        if wait is not None:
            with store.lock:
                store.stats.rate_limit_violations += 1
            return json_response(
                200,
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": self._cost(store, cost, None),
                },
            )
        answer = operation(store, query, variables, call)
        if "data" in answer:
            answer["extensions"] = self._cost(store, cost, cost)
        return json_response(200, answer)

    @staticmethod
    def _cost(store: Store, requested: int, actual: int | None) -> dict[str, Any]:
        bucket = store.buckets["graphql"]
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": float(bucket.limit.burst),
                    "currentlyAvailable": int(bucket.available),
                    "restoreRate": float(bucket.limit.rate),
                },
            }
        }

    def _set_quantities(
        self, store: Store, query: str, variables: dict[str, Any], call: Call
    ) -> dict[str, Any]:
        payload = argument(query, "inventorySetQuantities", "input", variables) or {}
        quantities = payload.get("quantities") or []
        if len(quantities) > MAX_INPUT_SIZE:
            return {
                "errors": [
                    {
                        "message": f"The input array size of {len(quantities)} is greater than "
                        f"the maximum allowed of {MAX_INPUT_SIZE}.",
                        "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"},
                    }
                ]
            }
        key = idempotency_key(query, variables)
        with store.lock:
            if key and ("shopify-idempotency-failed", key) in store.seen:
                return _idempotency_error("IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED")
            if key and ("shopify-idempotency", key) in store.seen:
                return store.seen[("shopify-idempotency", key)]
            injected = store.options.get("idempotency_errors")
            if injected and injected["left"] > 0:
                injected["left"] -= 1
                if injected["code"] == "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED" and key:
                    store.seen[("shopify-idempotency-failed", key)] = True
                return _idempotency_error(injected["code"])
            result = self._apply_quantities(store, payload, quantities, call)
            answer = {"data": {"inventorySetQuantities": result}}
            # A dropped write is lost entirely, its idempotency key included: otherwise the
            # hub's retry would be answered from the cache and never applied.
            if key and not call.drop_writes:
                store.seen[("shopify-idempotency", key)] = answer
        return answer

    def _apply_quantities(
        self, store: Store, payload: dict[str, Any], quantities: list[dict[str, Any]], call: Call
    ) -> dict[str, Any]:
        """Validate every entry, then apply all or none (caller holds the store lock)."""
        errors: list[dict[str, Any]] = []
        if payload.get("name") not in QUANTITY_NAMES:
            errors.append(
                {"code": "INVALID_NAME", "field": ["input", "name"], "message": "Invalid name."}
            )
        if payload.get("reason") not in REASONS:
            errors.append(
                {
                    "code": "INVALID_REASON",
                    "field": ["input", "reason"],
                    "message": "The specified reason is invalid.",
                }
            )
        changes: list[tuple[str, int]] = []
        for index, entry in enumerate(quantities):
            field = ["input", "quantities", str(index)]
            sku = store.sku_for("item", entry.get("inventoryItemId", ""))
            if sku is None or sku not in store.levels:
                errors.append(
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": [*field, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                )
                continue
            if not store.accepts_location(entry.get("locationId", "")):
                errors.append(
                    {
                        "code": "INVALID_LOCATION",
                        "field": [*field, "locationId"],
                        "message": "The specified location could not be found.",
                    }
                )
                continue
            quantity = entry.get("quantity")
            if not isinstance(quantity, int):
                errors.append(
                    {
                        "code": "INVALID_QUANTITY",
                        "field": [*field, "quantity"],
                        "message": "The quantity must be an integer.",
                    }
                )
                continue
            expected = entry.get("changeFromQuantity")
            if expected is not None and expected != store.levels[sku]:
                errors.append(
                    {
                        "code": "CHANGE_FROM_QUANTITY_STALE",
                        "field": [*field, "changeFromQuantity"],
                        "message": "The specified changeFromQuantity does not match the "
                        "current quantity.",
                    }
                )
                continue
            changes.append((sku, quantity))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        applied = []
        for sku, quantity in changes:
            delta = quantity - store.levels[sku]
            if delta:
                applied.append(
                    {
                        "name": payload["name"],
                        "delta": delta,
                        "quantityAfterChange": quantity,
                        "item": {"id": gid("InventoryItem", store.id_for("item", sku)), "sku": sku},
                        "location": {"id": gid("Location", store.location_id)},
                    }
                )
        if call.drop_writes:
            store.stats.writes_dropped += 1
        else:
            for sku, quantity in changes:
                store.set_level(sku, quantity)
        group = None
        if applied:
            group_id = gid("InventoryAdjustmentGroup", uuid.uuid4().int % 10**12)
            group = {"id": group_id, "reason": payload["reason"], "changes": applied}
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def _item_node(self, store: Store, sku: str, location: Any) -> dict[str, Any]:
        level = None
        if location and store.accepts_location(location):
            level = {"quantities": _quantities(store.levels[sku])}
        return {
            "id": gid("InventoryItem", store.id_for("item", sku)),
            "sku": sku,
            "inventoryLevel": level,
        }

    def _nodes(
        self, store: Store, query: str, variables: dict[str, Any], call: Call
    ) -> dict[str, Any]:
        ids = argument(query, "nodes", "ids", variables) or []
        location = argument(query, "inventoryLevel", "locationId", variables)
        nodes: list[dict[str, Any] | None] = []
        with store.lock:
            for value in ids:
                sku = store.sku_for("item", value)
                if sku is None or sku not in store.levels or "InventoryItem" not in str(value):
                    nodes.append(None)
                else:
                    nodes.append(self._item_node(store, sku, location))
        return {"data": {"nodes": nodes}}

    def _inventory_items(
        self, store: Store, query: str, variables: dict[str, Any], call: Call
    ) -> dict[str, Any]:
        first = int(argument(query, "inventoryItems", "first", variables) or 0)
        after = argument(query, "inventoryItems", "after", variables)
        search = str(argument(query, "inventoryItems", "query", variables) or "")
        wanted = [
            quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted else bare
            for quoted, bare in _SKU_TERM.findall(search)
        ]
        shared = store.options.get("shared_skus", {})
        matches = []
        with store.lock:
            for sku in wanted:
                if sku not in store.levels:
                    continue
                # Items sharing the SKU first: a page too short for them loses the rest.
                for copy in range(shared.get(sku, 0)):
                    matches.append((stable_id(store.name, "shared-item", sku, str(copy)), sku))
                matches.append((store.id_for("item", sku), sku))
            start = int(after) if isinstance(after, str) and after.isdigit() else 0
            page = matches[start : start + first]
            nodes = [
                {
                    "id": gid("InventoryItem", item_id),
                    "sku": sku,
                    "inventoryLevels": {
                        "nodes": [
                            {
                                "location": {"id": gid("Location", store.location_id)},
                                "quantities": _quantities(store.levels[sku]),
                            }
                        ]
                    },
                }
                for item_id, sku in page
            ]
        end = start + len(page)
        return {
            "data": {
                "inventoryItems": {
                    "nodes": nodes,
                    "pageInfo": {
                        "hasNextPage": end < len(matches),
                        "endCursor": str(end) if page else None,
                    },
                }
            }
        }

    # -- webhooks -------------------------------------------------------------------------

    def _line_item(self, store: Store, order_id: str, sku: str, quantity: int) -> dict[str, Any]:
        line_id = stable_id(store.name, "line", order_id, sku)
        return {
            "id": line_id,
            "admin_graphql_api_id": gid("LineItem", line_id),
            "variant_id": store.id_for("variant", sku),
            "product_id": store.id_for("product", sku),
            "sku": sku,
            "title": sku,
            "name": sku,
            "quantity": quantity,
            "current_quantity": quantity,
            "fulfillable_quantity": quantity,
            "price": "10.00",
        }

    def _order(self, store: Store, event: Event) -> dict[str, Any]:
        order = require_order(event)
        cancelled = order.status == "cancelled"
        return {
            "id": int(order.order_id),
            "admin_graphql_api_id": gid("Order", order.order_id),
            "name": f"#{order.number}",
            "order_number": order.number,
            "email": "buyer@example.com",
            "created_at": _iso(order.created_at),
            "updated_at": _iso(event.occurred_at),
            "processed_at": _iso(order.created_at),
            "cancelled_at": _iso(event.occurred_at) if cancelled else None,
            "cancel_reason": "customer" if cancelled else None,
            "financial_status": "refunded" if order.status == "refunded" else "paid",
            "fulfillment_status": "fulfilled" if order.status == "fulfilled" else None,
            "currency": "USD",
            "test": True,
            "line_items": [
                self._line_item(store, order.order_id, line.sku, line.quantity)
                for line in order.lines
            ],
            "refunds": [],
        }

    def _refund(self, store: Store, event: Event) -> dict[str, Any]:
        order = require_order(event)
        refund_id = stable_id(store.name, "refund", order.order_id, _iso(event.occurred_at))
        return {
            "id": refund_id,
            "admin_graphql_api_id": gid("Refund", refund_id),
            "order_id": int(order.order_id),
            "created_at": _iso(event.occurred_at),
            "processed_at": _iso(event.occurred_at),
            "restock": event.restock,
            "note": None,
            "refund_line_items": [
                {
                    "id": stable_id(store.name, "refund-line", str(refund_id), line.sku),
                    "line_item_id": stable_id(store.name, "line", order.order_id, line.sku),
                    "quantity": line.quantity,
                    "restock_type": "return" if event.restock else "no_restock",
                    "location_id": _number(store.location_id) if event.restock else None,
                    "line_item": self._line_item(store, order.order_id, line.sku, line.quantity),
                }
                for line in event.lines
            ],
        }

    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        order_id = event.order.order_id if event.order else ""
        if event.type == "inventory.level":
            levels = {store.location_id: event.quantity}
            for location, others in store.options.get("locations", {}).items():
                levels[location] = others.get(event.sku, 0)
            return [
                self._delivery(
                    store,
                    "inventory_levels/update",
                    self._level(store, event, location, quantity),
                    "",
                    _iso(event.occurred_at),
                )
                for location, quantity in levels.items()
            ]
        if event.type == "order.refunded":
            topic, payload = "refunds/create", self._refund(store, event)
        else:
            topic = {
                "order.created": "orders/create",
                "order.cancelled": "orders/cancelled",
                "order.fulfilled": "orders/fulfilled",
            }[event.type]
            payload = self._order(store, event)
        return [self._delivery(store, topic, payload, order_id, _iso(event.occurred_at))]

    @staticmethod
    def _level(store: Store, event: Event, location: str, quantity: int) -> dict[str, Any]:
        item_id = store.id_for("item", event.sku)
        return {
            "inventory_item_id": item_id,
            "location_id": _number(location),
            "available": quantity,
            "updated_at": _iso(event.occurred_at),
            "admin_graphql_api_id": (
                f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item_id}"
            ),
        }

    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        return self._delivery(store, topic, payload, "", _iso(now()))

    def _delivery(
        self, store: Store, topic: str, payload: Any, order_id: str, triggered_at: str
    ) -> Delivery:
        event_id = str(uuid.uuid4())
        webhook_id = str(uuid.uuid4())
        body = compact_json(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": f"{store.name}.myshopify.com",
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": triggered_at,
            **sign_shopify(body, store.webhook_secret),
        }
        return Delivery(
            event_id=event_id,
            topic=topic,
            order_id=order_id,
            render=lambda attempt: (body, headers),
        )


def _idempotency_error(code: str) -> dict[str, Any]:
    """A refused mutation: nothing applied, the user error named by the reference."""
    return {
        "data": {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": None,
                "userErrors": [{"code": code, "field": None, "message": IDEMPOTENCY_ERRORS[code]}],
            }
        }
    }


def _number(value: str) -> int | str:
    """REST payloads carry numeric ids as numbers."""
    return int(value) if value.isdigit() else value


def _iso(moment: Any) -> str:
    return moment.replace(microsecond=0).isoformat()
