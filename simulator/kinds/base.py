"""What every simulated channel kind provides to the server.

A kind declares its API routes (paths below ``<sim>/<kind>/<store>``), how it authenticates
and how its errors look, its default rate limits, and how it turns a store event (an order
placed, cancelled...) into signed deliveries in its own wire format.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from simulator.http import Request, Response, format_seconds
from simulator.ratelimit import Limit
from simulator.state import Faults, Line, Order, SimulatorState, Store

OperationClass = Literal["read", "write", "aux"]
EVENT_TYPES = frozenset(
    {"order.created", "order.cancelled", "order.fulfilled", "order.refunded", "inventory.level"}
)


@dataclass
class Call:
    """Per-request context handed to a route handler."""

    simulator: SimulatorState
    faults: Faults
    params: dict[str, str]
    # Filled by write handlers: how many items the write carried (for the request log).
    items: int | None = None

    @property
    def drop_writes(self) -> bool:
        return self.faults.drop_writes


Handler = Callable[[Store, Request, Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    # Path segments; "{name}" captures a segment into Call.params, "*" matches any.
    pattern: tuple[str, ...]
    handler: Handler
    # "read" / "write" / "aux" (aux: token, queue and key endpoints, never faulted or
    # metered), or a function of the request when only the body tells (GraphQL).
    operation: OperationClass | Callable[[Request], OperationClass]
    # Rate-limit bucket; None: not metered by the server (aux routes, or the handler
    # meters itself, like Shopify's cost-based GraphQL limit).
    bucket: str | None = "api"
    # False for endpoints that carry their own credentials (LWA token) or none (SQS).
    authenticated: bool = True

    def operation_for(self, request: Request) -> OperationClass:
        return self.operation(request) if callable(self.operation) else self.operation

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if method != self.method or len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(self.pattern, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segment
            elif part != "*" and part != segment:
                return None
        return params


@dataclass
class Event:
    """Something that happened on a store, before it is put in a kind's wire format."""

    type: str
    occurred_at: datetime
    order: Order | None = None
    lines: list[Line] = field(default_factory=list)
    restock: bool = False
    # inventory.level
    sku: str = ""
    quantity: int = 0


@dataclass
class Delivery:
    """One notification to send: ``render(attempt)`` gives body and headers (signed
    afresh per attempt, because some channels put the attempt count in the body)."""

    event_id: str
    topic: str
    order_id: str
    render: Callable[[int], tuple[bytes, dict[str, str]]]
    # "http": POST to the store's webhook_url; "queue": into the store's SQS queue.
    sink: Literal["http", "queue"] = "http"


def require_order(event: Event) -> Order:
    if event.order is None:
        raise ValueError(f"{event.type} needs an order")
    return event.order


def compact_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class KindApi(ABC):
    kind: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]] = ()
    default_limits: ClassVar[dict[str, Limit]] = {"api": Limit(rate=10.0, burst=20.0)}
    # Event types the channel has a notification for (others: send a raw event).
    supported_events: ClassVar[frozenset[str]] = EVENT_TYPES

    def route(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, segments)
            if params is not None:
                return route, params
        return None

    # -- API behaviour --------------------------------------------------------------------

    @abstractmethod
    def authenticate(self, store: Store, request: Request) -> Response | None:
        """None when the caller may proceed, else the channel's own 401/403."""

    @abstractmethod
    def error(self, status: int, message: str, code: str = "") -> Response:
        """An error response in the channel's shape."""

    def throttled(self, store: Store, bucket: str, wait: float) -> Response:
        response = self.error(429, "Exceeded the rate limit; retry later.", "rate_limited")
        response.headers["Retry-After"] = format_seconds(wait)
        return response

    # -- store description ----------------------------------------------------------------

    def listing(self, store: Store, sku: str) -> dict[str, str]:
        """The ids the hub stores for one SKU's listing (ListingRef fields)."""
        return {"external_id": "", "external_parent_id": "", "external_location_id": ""}

    @abstractmethod
    def channel_config(self, store: Store, base_url: str) -> dict[str, Any]:
        """``settings`` and ``credentials`` a hub channel needs to talk to this store."""

    def store_options(self, data: dict[str, Any]) -> dict[str, Any]:
        """The kind's own options from a store's creation JSON (ValueError: refused)."""
        return {}

    def validate_secret(self, secret: str) -> None:
        """Raise ValueError when ``secret`` cannot sign this kind's webhooks."""
        if not secret:
            raise ValueError("webhook_secret must not be empty")

    @abstractmethod
    def make_secret(self) -> str:
        """A fresh webhook secret for a store created without one."""

    def order_id(self, store: Store, number: int) -> str:
        """The channel's id for a new order numbered ``number`` on ``store``."""
        return f"{store.name}-{number}"

    # -- events ---------------------------------------------------------------------------

    @abstractmethod
    def deliveries(self, store: Store, event: Event, root_url: str) -> list[Delivery]:
        """The notifications the channel sends for ``event`` (ValueError: unsupported)."""

    @abstractmethod
    def raw_delivery(self, store: Store, topic: str, payload: Any, root_url: str) -> Delivery:
        """An arbitrary payload, sent as this channel sends ``topic`` (signed its way)."""
