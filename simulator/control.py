"""The simulator's control API (``<sim>/_control/...``): set stores up, sell, break things.

All bodies are JSON. Errors answer ``{"error": code, "message": text}``.

``GET  /_control/health``                       200 ``{"status": "ok", "stores": n}``
``POST /_control/stores``                       create or replace a store::

    {"kind", "store", "webhook_url", "webhook_secret", "levels": {"SKU": n},
     "rate_limit": {"rate", "burst"} | {"<bucket>": {"rate", "burst"}} | false,
     "credentials": {...},          # optional: insist on exactly these credentials
     "variations": {"SKU": "PARENT-SKU"},                      # woocommerce
     "location_id", "locations", "idempotency_errors",         # shopify
     "shared_skus",                                            # shopify
     "parent_managed", "strip_authorization",                  # woocommerce
     "seller_id", "marketplace_id", "product_type",            # amazon
     "revisions_per_listing_per_day",                          # ebay (default 250)
     "token_lifetime_seconds", "unpublished_skus"}             # ebay

  The Shopify and WooCommerce options are described in ``kinds/shopify.py`` and
  ``kinds/woocommerce.py``; Amazon listings' own product types and attributes are set
  with ``PUT <store>/_simulator/listings`` (``kinds/amazon_listings.py``).

  ``location_id`` and ``seller_id`` pin the id the store insists on; left out, the store
  accepts whatever the hub is configured with. An eBay store refuses a listing's revision
  past its daily cap (any 24 hours) and counts it in ``revision_limit_violations``.
  ``token_lifetime_seconds`` (eBay, default 0: off) makes the store's access tokens
  expire and its channel credentials carry client_id, client_secret and refresh_token for
  the identity endpoint; ``unpublished_skus`` lists SKUs whose offer is unpublished.

  Answers 201 with the store's description: ``base_url``, the (possibly generated)
  ``webhook_secret``, ``listings`` (the channel ids per SKU) and ``channel`` (the
  ``settings`` and ``credentials`` a hub channel needs to talk to the store).
``GET  /_control/stores``, ``GET|DELETE /_control/stores/<store>``
``GET  /_control/stores/<store>/levels``        ``{"SKU": n}``
``POST /_control/stores/<store>/levels``        ``{"SKU": n}`` sets stock behind the hub's
                                                back (no webhook; see events)
``POST /_control/stores/<store>/orders``        sell and notify::

    {"lines": [{"sku", "quantity"}]  or  "orders": [{"order_id"?, "lines": [...]}, ...],
     "duplicates": n,        # send every delivery n extra times (same event id)
     "shuffle": bool,        # send all deliveries (duplicates included) in random order
     "allow_oversell": bool} # sell past the store's stock (else 409 insufficient_stock)

``POST /_control/stores/<store>/events``        one more event about an order or a level::

    {"type": "order.cancelled" | "order.fulfilled" | "order.refunded", "order_id",
     "lines"?: [...] (default: the order's lines), "restock"?: bool, "duplicates"?,
     "shuffle"?}
    {"type": "inventory.level", "sku", "quantity"}   # also sets the store's level
    {"topic": "<the channel's topic>", "payload": {...}}   # raw, signed the channel's way

  Cancellations restock by default, refunds only with ``"restock": true``. The orders and
  events answers list every delivery with the hub's HTTP status (or, for Amazon, the SQS
  message id).
``GET  /_control/stores/<store>/log``           the store's last API requests
``POST /_control/faults``                       replaces a store's faults (no store: the
                                                faults of every store without its own)::

    {"store"?, "error_rate": 0..1, "status": 500, "retry_after": s (with status 429),
     "latency_ms": n, "drop_writes": bool, "outage": bool, "timeout": true | seconds}

``GET  /_control/faults``, ``DELETE /_control/faults[?store=]``
``GET  /_control/stats``                        ``{"stores": {store: {"requests", "reads",
                                                "writes", "rate_limit_violations", ...}},
                                                "rate_limit_violations": total}``
``DELETE /_control/stats``                      resets the counters
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from simulator.http import HttpError, Request, Response, bad_request, json_response
from simulator.kinds import KINDS, KindApi
from simulator.kinds.base import EVENT_TYPES, Delivery, Event
from simulator.ratelimit import Limit
from simulator.state import (
    STORE_NAME,
    Faults,
    Line,
    Order,
    SimulatorState,
    Store,
    StoreStats,
    now,
    stable_id,
)

MAX_DUPLICATES = 50
# A limit so high it never bites: "rate_limit": false.
UNLIMITED = Limit(rate=1e9, burst=1e9)


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": code, "message": message})


def _not_found(what: str) -> HttpError:
    return HttpError(_error(404, "not_found", what))


def _quantity(value: Any, what: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{what} must be an integer")
    if positive and value <= 0:
        raise bad_request(f"{what} must be positive")
    return value


def _levels(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise bad_request("levels must be an object of SKU -> quantity")
    return {str(sku): _quantity(quantity, f"level of {sku!r}") for sku, quantity in value.items()}


def _lines(value: Any) -> list[tuple[str, int]]:
    if not isinstance(value, list) or not value:
        raise bad_request("lines must be a non-empty list of {sku, quantity}")
    lines = []
    for line in value:
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str) or not line["sku"]:
            raise bad_request(f"bad line {line!r}")
        lines.append((line["sku"], _quantity(line.get("quantity"), "quantity", positive=True)))
    return lines


def _limits(api: KindApi, value: Any) -> dict[str, Limit]:
    if value is None or value is True:
        return dict(api.default_limits)
    if value is False:
        return dict.fromkeys(api.default_limits, UNLIMITED)
    if not isinstance(value, dict):
        raise bad_request("rate_limit must be {rate, burst}, per bucket, or false")

    def limit(spec: Any) -> Limit:
        try:
            return Limit(rate=float(spec["rate"]), burst=float(spec["burst"]))
        except (KeyError, TypeError, ValueError):
            raise bad_request(f"bad rate limit {spec!r}: needs rate and burst") from None

    if "rate" in value:
        return dict.fromkeys(api.default_limits, limit(value))
    limits = dict(api.default_limits)
    for bucket, spec in value.items():
        if bucket not in limits:
            raise bad_request(f"{api.kind} has no rate-limit bucket {bucket!r}")
        limits[bucket] = limit(spec)
    return limits


def _duplicates(data: dict[str, Any]) -> int:
    duplicates = _quantity(data.get("duplicates", 0), "duplicates")
    if not 0 <= duplicates <= MAX_DUPLICATES:
        raise bad_request(f"duplicates must be between 0 and {MAX_DUPLICATES}")
    return duplicates


class Control:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def handle(self, request: Request, segments: list[str]) -> Response:
        try:
            return self._route(request, segments)
        except HttpError as exc:
            return exc.response

    def _route(self, request: Request, segments: list[str]) -> Response:
        method = request.method
        match segments:
            case ["health"] if method == "GET":
                return json_response(200, {"status": "ok", "stores": len(self.state.all_stores())})
            case ["stores"] if method == "POST":
                return self.create_store(request)
            case ["stores"] if method == "GET":
                return json_response(
                    200, [self.describe(s, request.root_url) for s in self.state.all_stores()]
                )
            case ["stores", name] if method == "GET":
                return json_response(200, self.describe(self._store(name), request.root_url))
            case ["stores", name] if method == "DELETE":
                if not self.state.remove_store(name):
                    raise _not_found(f"no store {name!r}")
                return Response(status=204)
            case ["stores", name, "levels"] if method == "GET":
                store = self._store(name)
                with store.lock:
                    return json_response(200, store.listing_levels())
            case ["stores", name, "levels"] if method == "POST":
                return self.set_levels(self._store(name), request)
            case ["stores", name, "orders"] if method == "POST":
                return self.place_orders(self._store(name), request)
            case ["stores", name, "events"] if method == "POST":
                return self.send_event(self._store(name), request)
            case ["stores", name, "log"] if method == "GET":
                store = self._store(name)
                with store.lock:
                    return json_response(200, list(store.log))
            case ["faults"] if method == "POST":
                return self.set_faults(request)
            case ["faults"] if method == "GET":
                with self.state.lock:
                    faults = {name: f.as_dict() for name, f in self.state.faults.items()}
                return json_response(200, faults)
            case ["faults"] if method == "DELETE":
                self.state.clear_faults(request.param("store") or None)
                return json_response(200, {"cleared": request.param("store") or "*"})
            case ["stats"] if method == "GET":
                return json_response(200, self.stats())
            case ["stats"] if method == "DELETE":
                for store in self.state.all_stores():
                    with store.lock:
                        store.stats = StoreStats()
                return json_response(200, self.stats())
        return _error(404, "not_found", f"no control endpoint {method} /{'/'.join(segments)}")

    def _store(self, name: str) -> Store:
        store = self.state.store(name)
        if store is None:
            raise _not_found(f"no store {name!r}")
        return store

    # -- stores ---------------------------------------------------------------------------

    def create_store(self, request: Request) -> Response:
        store = self.build_store(request.json())
        self.state.put_store(store)
        return json_response(201, self.describe(store, request.root_url))

    @staticmethod
    def build_store(data: Any) -> Store:
        """A store from the control API's JSON; HttpError(400) when it is not valid."""
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        api = KINDS.get(str(data.get("kind")))
        if api is None:
            raise bad_request(f"kind must be one of {', '.join(sorted(KINDS))}")
        name = str(data.get("store") or "")
        if not STORE_NAME.match(name):
            raise bad_request("store must be 1-64 letters, digits, '-' or '_'")
        webhook_url = str(data.get("webhook_url") or "")
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise bad_request("webhook_url must be an http(s) URL")
        secret = str(data.get("webhook_secret") or api.make_secret())
        try:
            api.validate_secret(secret)
        except ValueError as exc:
            raise bad_request(f"webhook_secret: {exc}") from exc
        credentials = data.get("credentials") or {}
        variations = data.get("variations") or {}
        for field_name, mapping in (("credentials", credentials), ("variations", variations)):
            if not isinstance(mapping, dict) or not all(
                isinstance(v, str) for v in mapping.values()
            ):
                raise bad_request(f"{field_name} must be an object of strings")
        levels = _levels(data.get("levels") or {})
        try:
            options = api.store_options(data)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        # A parent that manages its variations' stock (WooCommerce) holds that stock.
        stocked_parents = set(options.get("stocked_parents", ()))
        if (set(variations.values()) - stocked_parents) & set(levels):
            raise bad_request("a parent product of variations cannot have stock of its own")
        extra = {
            key: str(data[key])
            for key in ("location_id", "seller_id", "marketplace_id", "product_type")
            if data.get(key)
        }
        if "revisions_per_listing_per_day" in data:
            cap = data["revisions_per_listing_per_day"]
            if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
                raise bad_request("revisions_per_listing_per_day must be a positive integer")
            extra["revisions_per_listing_per_day"] = cap
        if "token_lifetime_seconds" in data:
            lifetime = data["token_lifetime_seconds"]
            if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 0:
                raise bad_request("token_lifetime_seconds must be a non-negative integer")
            extra["token_lifetime_seconds"] = lifetime
        if "unpublished_skus" in data:
            unpublished = data["unpublished_skus"]
            if not isinstance(unpublished, list) or not all(
                isinstance(sku, str) for sku in unpublished
            ):
                raise bad_request("unpublished_skus must be a list of SKUs")
            extra["unpublished"] = set(unpublished)
        return Store(
            kind=api.kind,
            name=name,
            webhook_url=webhook_url,
            webhook_secret=secret,
            credentials={str(k): v for k, v in credentials.items()},
            limits=_limits(api, data.get("rate_limit")),
            variations={str(k): v for k, v in variations.items()},
            levels=levels,
            options=options,
            **extra,
        )

    @staticmethod
    def describe(store: Store, root_url: str) -> dict[str, Any]:
        api = KINDS[store.kind]
        base_url = f"{root_url}/{store.kind}/{store.name}"
        with store.lock:
            levels = store.listing_levels()
            listings = {sku: {"sku": sku, **api.listing(store, sku)} for sku in store.levels}
        return {
            "kind": store.kind,
            "store": store.name,
            "base_url": base_url,
            "webhook_url": store.webhook_url,
            "webhook_secret": store.webhook_secret,
            "levels": levels,
            "listings": listings,
            "channel": api.channel_config(store, base_url),
            "rate_limits": {
                name: {"rate": limit.rate, "burst": limit.burst}
                for name, limit in store.limits.items()
            },
        }

    def set_levels(self, store: Store, request: Request) -> Response:
        levels = _levels(request.json())
        with store.lock:
            for sku, quantity in levels.items():
                store.set_level(sku, quantity)
            return json_response(200, store.listing_levels())

    # -- orders and events ----------------------------------------------------------------

    def place_orders(self, store: Store, request: Request) -> Response:
        data = request.json()
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        api = KINDS[store.kind]
        specs = data.get("orders")
        if specs is None:
            specs = [{"lines": data.get("lines"), "order_id": data.get("order_id")}]
        if not isinstance(specs, list) or not specs:
            raise bad_request("orders must be a non-empty list")
        if not all(isinstance(spec, dict) for spec in specs):
            raise bad_request("each order must be an object with lines")
        parsed = [(spec.get("order_id"), _lines(spec.get("lines"))) for spec in specs]
        duplicates = _duplicates(data)
        allow_oversell = bool(data.get("allow_oversell"))
        events: list[Event] = []
        with store.lock:
            needed: Counter[str] = Counter()
            for _, lines in parsed:
                for sku, quantity in lines:
                    needed[sku] += quantity
            refusal = None if allow_oversell else self._check_stock(store, needed)
            if refusal is not None:
                return refusal
            numbered = []
            for given_id, lines in parsed:
                number = store.next_order_number()
                numbered.append((str(given_id or api.order_id(store, number)), number, lines))
            order_ids = [order_id for order_id, _, _ in numbered]
            taken = [i for i in order_ids if i in store.orders or order_ids.count(i) > 1]
            if taken:
                return _error(409, "duplicate_order", f"order {taken[0]!r} exists")
            for order_id, number, lines in numbered:
                order = self._new_order(store, order_id, number, lines)
                store.orders[order_id] = order
                for line in order.lines:
                    store.adjust(line.sku, -line.quantity)
                events.append(
                    Event(
                        "order.created",
                        occurred_at=order.created_at,
                        order=order,
                        lines=order.lines,
                    )
                )
            levels = store.listing_levels()
        deliveries = [d for event in events for d in api.deliveries(store, event, request.root_url)]
        sent = self._send(store, deliveries, duplicates, bool(data.get("shuffle")))
        return json_response(
            200,
            {
                "orders": [
                    {
                        "order_id": event.order.order_id,
                        "number": event.order.number,
                        "lines": [
                            {"sku": line.sku, "quantity": line.quantity, "line_id": line.line_id}
                            for line in event.lines
                        ],
                    }
                    for event in events
                    if event.order is not None
                ],
                "deliveries": sent,
                "levels": levels,
            },
        )

    @staticmethod
    def _check_stock(store: Store, needed: Counter[str]) -> Response | None:
        """A 409 when the store cannot sell ``needed`` (caller holds the store lock)."""
        for sku, quantity in needed.items():
            if sku not in store.levels:
                return _error(409, "unknown_sku", f"{store.name} does not list {sku!r}")
            if store.levels[sku] < quantity:
                return _error(
                    409,
                    "insufficient_stock",
                    f"{store.name} has {store.levels[sku]} of {sku!r}, {quantity} ordered",
                )
        return None

    @staticmethod
    def _new_order(store: Store, order_id: str, number: int, lines: list[tuple[str, int]]) -> Order:
        created = now()
        return Order(
            order_id=order_id,
            number=number,
            lines=[
                Line(
                    sku=sku,
                    quantity=quantity,
                    line_id=str(stable_id(store.name, "line", order_id, str(index))),
                )
                for index, (sku, quantity) in enumerate(lines)
            ],
            created_at=created,
            updated_at=created,
        )

    def send_event(self, store: Store, request: Request) -> Response:
        data = request.json()
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        api = KINDS[store.kind]
        duplicates = _duplicates(data)
        if "topic" in data:
            if not isinstance(data.get("payload"), dict | list):
                raise bad_request("a raw event needs a JSON object (or list) payload")
            delivery = api.raw_delivery(
                store, str(data["topic"]), data.get("payload"), request.root_url
            )
            return json_response(200, {"deliveries": self._send(store, [delivery], duplicates)})
        event_type = data.get("type")
        if event_type == "order.created":
            raise bad_request("place new orders with POST .../orders")
        if event_type not in EVENT_TYPES:
            raise bad_request(f"type must be one of {', '.join(sorted(EVENT_TYPES))}")
        if event_type not in api.supported_events:
            raise bad_request(
                f"{store.kind} sends no notification for {event_type}; send a raw event "
                "({'topic', 'payload'}) instead"
            )
        with store.lock:
            event = (
                self._level_event(store, data)
                if event_type == "inventory.level"
                else self._order_event(store, event_type, data, api)
            )
            levels = store.listing_levels()
        deliveries = api.deliveries(store, event, request.root_url)
        sent = self._send(store, deliveries, duplicates, bool(data.get("shuffle")))
        return json_response(200, {"deliveries": sent, "levels": levels})

    @staticmethod
    def _level_event(store: Store, data: dict[str, Any]) -> Event:
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku:
            raise bad_request("inventory.level needs a sku")
        quantity = _quantity(data.get("quantity"), "quantity")
        store.set_level(sku, quantity)
        return Event("inventory.level", occurred_at=now(), sku=sku, quantity=quantity)

    def _order_event(
        self, store: Store, event_type: str, data: dict[str, Any], api: KindApi
    ) -> Event:
        """Cancel, fulfil or refund an order (caller holds the store lock)."""
        order_id = str(data.get("order_id") or "")
        order = store.orders.get(order_id)
        requested = _lines(data["lines"]) if data.get("lines") is not None else None
        if order is None:
            if not order_id or requested is None:
                raise _not_found(f"no order {order_id!r}; give lines to invent one")
            # An order the store knows but the simulator never placed (e.g. to test an
            # event for an order the hub never saw): remembered without touching stock.
            order = self._new_order(store, order_id, store.next_order_number(), requested)
            store.orders[order_id] = order
        if requested is None:
            lines = list(order.lines)
        else:
            by_sku = {line.sku: line for line in order.lines}
            lines = []
            for sku, quantity in requested:
                if sku not in by_sku:
                    raise bad_request(f"order {order_id!r} has no line for {sku!r}")
                lines.append(Line(sku=sku, quantity=quantity, line_id=by_sku[sku].line_id))
        restock = bool(data.get("restock", event_type == "order.cancelled"))
        if event_type == "order.fulfilled":
            restock = False
        if restock:
            for line in lines:
                store.adjust(line.sku, line.quantity)
        order.status = {
            "order.cancelled": "cancelled",
            "order.fulfilled": "fulfilled",
            "order.refunded": "refunded",
        }[event_type]
        occurred = order.touch()
        return Event(event_type, occurred_at=occurred, order=order, lines=lines, restock=restock)

    def _send(
        self, store: Store, deliveries: list[Delivery], duplicates: int, shuffle: bool = False
    ) -> list[dict[str, Any]]:
        """Deliver every notification 1 + duplicates times; report what the hub said."""
        attempts = [
            (delivery, attempt) for delivery in deliveries for attempt in range(1, duplicates + 2)
        ]
        if shuffle:
            self.state.shuffle(attempts)
        results = []
        for delivery, attempt in attempts:
            body, headers = delivery.render(attempt)
            record: dict[str, Any] = {
                "event_id": delivery.event_id,
                "topic": delivery.topic,
                "order_id": delivery.order_id,
                "attempt": attempt,
                "sink": delivery.sink,
                "status": None,
            }
            if delivery.sink == "queue":
                record["message_id"] = store.queue.send(body.decode()).message_id
            elif not store.webhook_url:
                record["error"] = "the store has no webhook_url"
            else:
                try:
                    answer = self._post_webhook(store.webhook_url, body, headers)
                    record["status"] = answer.status_code
                except httpx.HTTPError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
            with store.lock:
                store.stats.webhooks_sent += 1
            results.append(record)
        return results

    def _post_webhook(self, url: str, body: bytes, headers: dict) -> httpx.Response:
        """POST a delivery; a pooled keep-alive connection the receiver closed just as it
        was reused (nothing was read) is retried once on a fresh one, as senders' HTTP
        stacks do."""
        try:
            return self.state.webhook_client.post(url, content=body, headers=headers)
        except httpx.RemoteProtocolError:
            return self.state.webhook_client.post(url, content=body, headers=headers)

    # -- faults and stats -----------------------------------------------------------------

    def set_faults(self, request: Request) -> Response:
        data = request.json()
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        name = data.get("store")
        if name is not None and self.state.store(str(name)) is None:
            raise _not_found(f"no store {name!r}")
        try:
            faults = Faults.parse(data)
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from exc
        self.state.set_faults(str(name) if name is not None else None, faults)
        return json_response(200, {"store": name or "*", **faults.as_dict()})

    def stats(self) -> dict[str, Any]:
        stores = {}
        for store in self.state.all_stores():
            with store.lock:
                stores[store.name] = {"kind": store.kind, **store.stats.as_dict()}
        return {
            "stores": stores,
            "requests": sum(s["requests"] for s in stores.values()),
            "rate_limit_violations": sum(s["rate_limit_violations"] for s in stores.values()),
        }
