"""Simulated WooCommerce site: REST API v3 products and stock, and order webhooks.

API below ``<sim>/woocommerce/<store>/wp-json/wc/v3`` (HTTP basic auth with the consumer
key and secret, or ``consumer_key``/``consumer_secret`` query parameters):

* ``GET products`` with ``sku`` (comma separated; variations included, as in Woo core when
  filtering by SKU), ``include``, ``per_page`` (max 100) and ``page``; ``X-WP-Total`` and
  ``X-WP-TotalPages`` headers. ``GET products/<id>``.
* ``POST products/batch`` and ``POST products/<parent>/variations/batch`` with ``update``
  entries ``{"id", "stock_quantity", "manage_stock"}``; more than 100 objects is a 413
  ``woocommerce_rest_request_entity_too_large``. Unknown ids (or a variation sent to the
  product batch, or to another parent) are per-item errors inside a 200 answer.
  ``GET products/<parent>/variations``.

A store's SKUs are simple products unless ``variations`` maps them to a parent SKU, which
becomes a variable product. Store options: ``parent_managed``: variation SKUs whose stock
the parent manages (Woo core: the variation's own ``manage_stock`` is false and the
parent's true, so the REST answer says ``"manage_stock": "parent"`` and shows the parent's
``stock_quantity``); their parents hold stock in ``levels``. A variation update with
``manage_stock: true`` moves management to the variation, as the real one does
(``WC_Product_Variation::get_manage_stock``, the v3 variations controller).
``strip_authorization``: the host drops the ``Authorization`` header before WordPress
sees it, so only the query-string credentials get through.

Webhooks: ``order.created``, ``order.updated`` (status
``cancelled`` / ``completed`` / ``refunded``) and ``product.updated``, signed with
X-WC-Webhook-Signature over the body as PHP's ``wp_json_encode`` writes it (slashes
escaped). Woo's Delivery-ID changes on every delivery (it is not an event id); the dedupe
key is the webhook id plus the payload's ``id`` and ``date_modified_gmt``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from typing import Any

from channels.webhooks.signing import sign_woocommerce
from simulator.http import Request, Response, json_response
from simulator.kinds.base import (
    Call,
    Delivery,
    Event,
    KindApi,
    Route,
    require_order,
)
from simulator.state import Order, Store

API = ("wp-json", "wc", "v3")
BATCH_LIMIT = 100
PAGE_LIMIT = 100
WOO_VERSION = "9.9.0"


def _woo_date(moment: Any) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def _php_json(payload: Any) -> bytes:
    """``wp_json_encode``: compact, non-ASCII and "/" escaped (PHP's defaults)."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


class WooCommerceApi(KindApi):
    kind = "woocommerce"

    def __init__(self) -> None:
        self.routes = (
            Route("GET", (*API, "products"), self._list_products, "read"),
            Route("POST", (*API, "products", "batch"), self._product_batch, "write"),
            Route("GET", (*API, "products", "{id}"), self._get_product, "read"),
            Route("GET", (*API, "products", "{parent}", "variations"), self._variations, "read"),
            Route(
                "POST",
                (*API, "products", "{parent}", "variations", "batch"),
                self._variation_batch,
                "write",
            ),
        )

    def store_options(self, data: dict[str, Any]) -> dict[str, Any]:
        managed = data.get("parent_managed") or []
        variations = data.get("variations") or {}
        if not isinstance(managed, list) or not all(
            isinstance(sku, str) and sku in variations for sku in managed
        ):
            raise ValueError("parent_managed must list variation SKUs (keys of variations)")
        return {
            "parent_managed": set(managed),
            "stocked_parents": {variations[sku] for sku in managed},
            "strip_authorization": bool(data.get("strip_authorization")),
        }

    def authenticate(self, store: Store, request: Request) -> Response | None:
        key = request.param("consumer_key") or ""
        secret = request.param("consumer_secret") or ""
        authorization = request.header("authorization")
        if store.options.get("strip_authorization"):
            authorization = ""
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            key, _, secret = decoded.partition(":")
        expected_key = store.credentials.get("consumer_key")
        expected_secret = store.credentials.get("consumer_secret")
        if (
            not key
            or not secret
            or (expected_key and key != expected_key)
            or (expected_secret and secret != expected_secret)
        ):
            return self.error(
                401, "Sorry, you cannot list resources.", "woocommerce_rest_cannot_view"
            )
        return None

    def error(self, status: int, message: str, code: str = "") -> Response:
        return json_response(status, _error(status, code or "woocommerce_rest_error", message))

    def listing(self, store: Store, sku: str) -> dict[str, str]:
        parent = store.variations.get(sku)
        return {
            "external_id": str(store.id_for("product", sku)),
            "external_parent_id": str(store.id_for("product", parent)) if parent else "",
            "external_location_id": "",
        }

    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        return {
            "settings": {"base_url": base_url},
            "credentials": {
                "consumer_key": store.credentials.get("consumer_key") or f"ck_sim_{store.name}",
                "consumer_secret": (
                    store.credentials.get("consumer_secret") or f"cs_sim_{store.name}"
                ),
            },
        }

    def make_secret(self) -> str:
        return uuid.uuid4().hex

    def order_id(self, store: Store, number: int) -> str:
        return str(number)

    # -- products -------------------------------------------------------------------------

    def _product(self, store: Store, sku: str, quantity: int | None = None) -> dict[str, Any]:
        """A product or variation as the REST API shows it (caller holds the lock)."""
        parent = store.variations.get(sku)
        if sku in store.parents:
            children = [s for s, p in store.variations.items() if p == sku]
            # A parent manages stock only when it holds some (parent-managed variations).
            managed = sku in store.levels
            stock = (store.levels[sku] if quantity is None else quantity) if managed else None
            return {
                "id": store.id_for("product", sku),
                "name": sku,
                "type": "variable",
                "parent_id": 0,
                "sku": sku,
                "status": "publish",
                "manage_stock": managed,
                "stock_quantity": stock,
                "stock_status": "outofstock" if managed and stock <= 0 else "instock",
                "variations": [store.id_for("product", child) for child in children],
            }
        manage_stock: bool | str = True
        if sku in store.options.get("parent_managed", ()):
            # The parent's number, as Woo's view context shows it (get_stock_quantity).
            manage_stock, quantity = "parent", store.levels[parent]
        stock = store.levels[sku] if quantity is None else quantity
        return {
            "id": store.id_for("product", sku),
            "name": sku,
            "type": "variation" if parent else "simple",
            "parent_id": store.id_for("product", parent) if parent else 0,
            "sku": sku,
            "status": "publish",
            "manage_stock": manage_stock,
            "stock_quantity": stock,
            "stock_status": "instock" if stock > 0 else "outofstock",
            "backorders": "no",
        }

    def _page(self, request: Request, products: list[dict[str, Any]]) -> Response:
        try:
            per_page = min(int(request.param("per_page") or 10), PAGE_LIMIT)
            page = max(int(request.param("page") or 1), 1)
        except ValueError:
            return self.error(400, "Invalid parameter(s): per_page, page", "rest_invalid_param")
        total = len(products)
        chunk = products[(page - 1) * per_page : page * per_page]
        return json_response(
            200,
            chunk,
            {
                "X-WP-Total": str(total),
                "X-WP-TotalPages": str(max(1, math.ceil(total / per_page))) if per_page else "1",
            },
        )

    def _list_products(self, store: Store, request: Request, call: Call) -> Response:
        sku_filter = request.param("sku")
        include = {i for i in (request.param("include") or "").split(",") if i}
        with store.lock:
            if sku_filter:
                wanted = set(sku_filter.split(",")) | {sku_filter}
                skus = [
                    s for s in dict.fromkeys([*store.levels, *sorted(store.parents)]) if s in wanted
                ]
            else:
                skus = [
                    s for s in store.levels if s not in store.variations and s not in store.parents
                ]
                skus += sorted(store.parents)
            products = [self._product(store, sku) for sku in skus]
        if include:
            products = [p for p in products if str(p["id"]) in include]
        return self._page(request, products)

    def _get_product(self, store: Store, request: Request, call: Call) -> Response:
        with store.lock:
            sku = store.sku_for("product", call.params["id"])
            if sku is None:
                return self.error(404, "Invalid ID.", "woocommerce_rest_product_invalid_id")
            return json_response(200, self._product(store, sku))

    def _variations(self, store: Store, request: Request, call: Call) -> Response:
        with store.lock:
            parent = store.sku_for("product", call.params["parent"])
            if parent is None or parent not in store.parents:
                return self.error(404, "Invalid ID.", "woocommerce_rest_product_invalid_id")
            wanted = set((request.param("sku") or "").split(",")) - {""}
            include = set((request.param("include") or "").split(",")) - {""}
            products = [
                self._product(store, sku)
                for sku, owner in store.variations.items()
                if owner == parent
                and sku in store.levels
                and (not wanted or sku in wanted)
                and (not include or str(store.id_for("product", sku)) in include)
            ]
        return self._page(request, products)

    def _product_batch(self, store: Store, request: Request, call: Call) -> Response:
        return self._batch(store, request, call, parent=None)

    def _variation_batch(self, store: Store, request: Request, call: Call) -> Response:
        with store.lock:
            parent = store.sku_for("product", call.params["parent"])
        if parent is None or parent not in store.parents:
            return self.error(404, "Invalid ID.", "woocommerce_rest_product_invalid_id")
        return self._batch(store, request, call, parent=parent)

    def _batch(self, store: Store, request: Request, call: Call, *, parent: str | None) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "Invalid batch body.", "rest_invalid_json")
        groups = {name: body.get(name) or [] for name in ("create", "update", "delete")}
        total = sum(len(items) for items in groups.values())
        call.items = total
        if total > BATCH_LIMIT:
            return self.error(
                413,
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
                "woocommerce_rest_request_entity_too_large",
            )
        answer: dict[str, list[dict[str, Any]]] = {}
        unsupported = _error(501, "simulator_unsupported", "Only updates are simulated.")
        for name in ("create", "delete"):
            if groups[name]:
                answer[name] = [{"id": 0, "error": unsupported} for _ in groups[name]]
        results = []
        with store.lock:
            for entry in groups["update"]:
                results.append(self._update(store, entry, parent, call))
            if call.drop_writes and groups["update"]:
                store.stats.writes_dropped += 1
        answer["update"] = results
        return json_response(200, answer)

    def _update(
        self, store: Store, entry: dict[str, Any], parent: str | None, call: Call
    ) -> dict[str, Any]:
        entry_id = entry.get("id")
        sku = store.sku_for("product", entry_id)
        if sku is None or sku not in store.levels or store.variations.get(sku) != parent:
            return {
                "id": entry_id,
                "error": _error(400, "woocommerce_rest_product_invalid_id", "Invalid ID."),
            }
        quantity = entry.get("stock_quantity")
        if isinstance(quantity, str) and quantity.lstrip("-").isdigit():
            quantity = int(quantity)
        if quantity is not None and not isinstance(quantity, int):
            return {
                "id": entry_id,
                "error": _error(400, "rest_invalid_param", "Invalid parameter(s): stock_quantity"),
            }
        managed = store.options.get("parent_managed", set())
        if sku in managed and entry.get("manage_stock") is True and not call.drop_writes:
            # set_manage_stock(true) on the variation: from now on it keeps its own stock.
            managed.discard(sku)
        if quantity is None:
            return self._product(store, sku)
        if sku in managed:
            # Woo writes the variation's own (hidden) stock; the parent's is what shows.
            if not call.drop_writes:
                store.set_level(sku, quantity)
            return self._product(store, sku)
        if not call.drop_writes:
            store.set_level(sku, quantity)
        return self._product(store, sku, quantity)

    # -- webhooks -------------------------------------------------------------------------

    def _order(
        self, store: Store, order: Order, status: str, event: Event, root_url: str
    ) -> dict[str, Any]:
        created, modified = _woo_date(order.created_at), _woo_date(event.occurred_at)
        site = f"{root_url}/woocommerce/{store.name}"
        order_key = f"wc_order_{hashlib.sha256(order.order_id.encode()).hexdigest()[:13]}"
        line_items = []
        for line in order.lines:
            parent = store.variations.get(line.sku)
            line_items.append(
                {
                    "id": int(line.line_id),
                    "name": line.sku,
                    "product_id": store.id_for("product", parent or line.sku),
                    "variation_id": store.id_for("product", line.sku) if parent else 0,
                    "quantity": line.quantity,
                    "sku": line.sku,
                    "price": 10,
                    "subtotal": f"{10 * line.quantity:.2f}",
                    "total": f"{10 * line.quantity:.2f}",
                }
            )
        refunds = []
        if status == "refunded":
            refunded = sum(10 * line.quantity for line in event.lines)
            refunds.append(
                {
                    "id": int(hashlib.sha256(modified.encode()).hexdigest()[:6], 16),
                    "reason": "restock" if event.restock else "",
                    "total": f"-{refunded:.2f}",
                }
            )
        return {
            "id": int(order.order_id),
            "parent_id": 0,
            "number": order.order_id,
            "order_key": order_key,
            "created_via": "checkout",
            "status": status,
            "currency": "USD",
            "date_created": created,
            "date_created_gmt": created,
            "date_modified": modified,
            "date_modified_gmt": modified,
            "total": f"{sum(10 * line.quantity for line in order.lines):.2f}",
            "line_items": line_items,
            "refunds": refunds,
            "payment_url": (
                f"{site}/checkout/order-pay/{order.order_id}/?pay_for_order=true&key={order_key}"
            ),
            "_links": {
                "self": [{"href": f"{site}/wp-json/wc/v3/orders/{order.order_id}"}],
                "collection": [{"href": f"{site}/wp-json/wc/v3/orders"}],
            },
        }

    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        if event.type == "inventory.level":
            with store.lock:
                product = self._product(store, event.sku)
            product["date_modified_gmt"] = _woo_date(event.occurred_at)
            return [self._delivery(store, "product.updated", product, "", root_url)]
        order = require_order(event)
        topic, status = {
            "order.created": ("order.created", "processing"),
            "order.cancelled": ("order.updated", "cancelled"),
            "order.fulfilled": ("order.updated", "completed"),
            "order.refunded": ("order.updated", "refunded"),
        }[event.type]
        payload = self._order(store, order, status, event, root_url)
        return [self._delivery(store, topic, payload, order.order_id, root_url)]

    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        return self._delivery(store, topic, payload, "", root_url)

    def _delivery(
        self, store: Store, topic: str, payload: Any, order_id: str, root_url: str
    ) -> Delivery:
        body = _php_json(payload)
        resource, _, action = topic.partition(".")
        identity = payload.get("id") if isinstance(payload, dict) else ""
        modified = payload.get("date_modified_gmt") if isinstance(payload, dict) else ""

        def render(attempt: int) -> tuple[bytes, dict[str, str]]:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"WooCommerce/{WOO_VERSION} Hookshot (WordPress/6.8)",
                "X-WC-Webhook-Source": f"{root_url}/woocommerce/{store.name}/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": action,
                "X-WC-Webhook-ID": str(store.webhook_id),
                # Woo derives it from the webhook id and the current second: per delivery.
                "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
                **sign_woocommerce(body, store.webhook_secret),
            }
            return body, headers

        return Delivery(
            event_id=f"{store.webhook_id}:{identity}:{modified}",
            topic=topic,
            order_id=order_id,
            render=render,
        )
