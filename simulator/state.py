"""The simulator's state: stores, their stock and orders, faults, counters.

Every store has one re-entrant lock; handlers validate and apply a request under it, so a
compare-and-set, a sale placed through the control API and a read-back never interleave
half way (the real channels are atomic per request too).
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulator.ratelimit import Limit, TokenBucket
from simulator.sqs import SqsQueue

# The id families a store hands out per SKU: Shopify inventory items / variants / products,
# WooCommerce products and variations (both "product"), eBay offers.
ID_NAMESPACES = ("item", "variant", "product", "offer")
STORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# How long a "timeout": true fault holds a request (clients give up long before).
DEFAULT_HANG_SECONDS = 30.0
REQUEST_LOG_SIZE = 500


def stable_id(*parts: str) -> int:
    """A 10-digit id that is the same for the same parts in every run of the simulator,
    so the hub's stored listing ids survive a simulator restart."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return 1_000_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000_000


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Faults:
    """Faults injected into a store's API calls (control endpoints are never faulted)."""

    error_rate: float = 0.0
    status: int = 500
    latency_ms: float = 0.0
    retry_after: float | None = None
    drop_writes: bool = False
    outage: bool = False
    # Seconds a request hangs before a 504 (0: off). Clearing faults releases it at once.
    timeout: float = 0.0

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Faults:
        """From the control API's JSON; raises ValueError with a readable message."""
        unknown = set(data) - {f.name for f in fields(cls)} - {"store"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        error_rate = float(data.get("error_rate") or 0.0)
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        status = int(data.get("status") or 500)
        if not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        timeout = data.get("timeout") or 0.0
        if timeout is True:
            timeout = DEFAULT_HANG_SECONDS
        retry_after = data.get("retry_after")
        faults = cls(
            error_rate=error_rate,
            status=status,
            latency_ms=float(data.get("latency_ms") or 0.0),
            retry_after=float(retry_after) if retry_after is not None else None,
            drop_writes=bool(data.get("drop_writes", False)),
            outage=bool(data.get("outage", False)),
            timeout=float(timeout),
        )
        if faults.latency_ms < 0 or faults.timeout < 0:
            raise ValueError("latency_ms and timeout must not be negative")
        return faults

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_FAULTS = Faults()


@dataclass
class Line:
    sku: str
    quantity: int
    line_id: str


@dataclass
class Order:
    order_id: str
    number: int
    lines: list[Line]
    created_at: datetime
    updated_at: datetime
    status: str = "placed"  # placed | cancelled | fulfilled | refunded

    def touch(self) -> datetime:
        """Advance updated_at by at least a second: channels with second-granularity
        timestamps (WooCommerce) would otherwise give two events the same dedupe key."""
        self.updated_at = max(now(), self.updated_at + timedelta(seconds=1))
        return self.updated_at


@dataclass
class StoreStats:
    requests: int = 0
    reads: int = 0
    writes: int = 0
    rate_limit_violations: int = 0
    # eBay: revisions refused because the listing had its day's worth (250) already.
    revision_limit_violations: int = 0
    faults_injected: int = 0
    writes_dropped: int = 0
    webhooks_sent: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Store:
    """One simulated shop of one channel kind."""

    kind: str
    name: str
    webhook_url: str
    webhook_secret: str
    # Credentials the store insists on; empty: any non-empty credential is accepted.
    credentials: dict[str, str]
    limits: dict[str, Limit]
    # SKU -> the parent SKU it is a variation of (WooCommerce variable products).
    variations: dict[str, str] = field(default_factory=dict)
    # Shopify location / Amazon seller id. Given at creation, the store insists on it
    # (a wrong one is an error, as on the real channel); left out, the store answers to
    # whatever the hub is configured with and uses a generated value in its webhooks.
    location_id: str = ""
    seller_id: str = ""
    marketplace_id: str = "ATVPDKIKX0DER"
    product_type: str = "PRODUCT"
    # eBay: revisions a listing may take in any 24 hours; the times of its latest ones.
    revisions_per_listing_per_day: int = 250
    revisions: dict[str, deque[float]] = field(default_factory=dict)
    # eBay: seconds an access token from the identity endpoint lives (0: the store hands
    # out no refresh credentials and its static token never expires); the tokens it
    # issued, with their expiry (time.time()) and grant ("user" or "application"); SKUs
    # whose offer is not published.
    token_lifetime_seconds: int = 0
    issued_tokens: dict[str, tuple[float, str]] = field(default_factory=dict)
    unpublished: set[str] = field(default_factory=set)
    levels: dict[str, int] = field(default_factory=dict)
    # eBay keeps the offer's quantity apart from the inventory item's.
    offer_levels: dict[str, int] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    # Idempotency keys / message ids the store has seen, with what it answered.
    seen: dict[str, Any] = field(default_factory=dict)
    # Kind-specific store options (KindApi.store_options), e.g. Shopify's extra locations.
    options: dict[str, Any] = field(default_factory=dict)
    stats: StoreStats = field(default_factory=StoreStats)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    lock: threading.RLock = field(default_factory=threading.RLock)
    created_at: datetime = field(default_factory=now)

    def __post_init__(self) -> None:
        self.buckets = {name: TokenBucket(limit) for name, limit in self.limits.items()}
        self.queue = SqsQueue(f"{self.name}-notifications")
        self._order_sequence = 1000
        self._signing_key: Any = None
        self.pinned_location = bool(self.location_id)
        self.location_id = self.location_id or str(stable_id(self.name, "location"))
        self.pinned_seller = bool(self.seller_id)
        self.seller_id = self.seller_id or "A1SIMSELLER"
        self.webhook_id = stable_id(self.name, "webhook")
        self._skus_by_id: dict[tuple[str, int], str] = {}
        for sku in [*self.levels, *self.parents]:
            self._register(sku)
        self.offer_levels = {**self.levels, **self.offer_levels}

    # -- ids ------------------------------------------------------------------------------

    def id_for(self, namespace: str, sku: str) -> int:
        return stable_id(self.name, namespace, sku)

    def sku_for(self, namespace: str, value: Any) -> str | None:
        """The SKU (or parent SKU) whose ``namespace`` id is ``value`` (a number, its string
        or a Shopify global id)."""
        try:
            wanted = int(str(value).rsplit("/", 1)[-1])
        except ValueError:
            return None
        return self._skus_by_id.get((namespace, wanted))

    def _register(self, sku: str) -> None:
        for namespace in ID_NAMESPACES:
            self._skus_by_id[(namespace, self.id_for(namespace, sku))] = sku

    def accepts_location(self, value: Any) -> bool:
        return not self.pinned_location or str(value).rsplit("/", 1)[-1] == self.location_id

    def accepts_seller(self, value: str) -> bool:
        return not self.pinned_seller or value == self.seller_id

    @property
    def parents(self) -> set[str]:
        return set(self.variations.values())

    # -- stock ----------------------------------------------------------------------------

    def set_level(self, sku: str, quantity: int) -> None:
        if sku not in self.levels:
            self._register(sku)
        self.levels[sku] = quantity
        self.offer_levels[sku] = quantity

    def adjust(self, sku: str, delta: int) -> None:
        if sku not in self.levels:
            self._register(sku)
        self.levels[sku] = self.levels.get(sku, 0) + delta
        self.offer_levels[sku] = self.offer_levels.get(sku, 0) + delta

    def listing_levels(self) -> dict[str, int]:
        """What a buyer sees per SKU (eBay shows the smaller of item and offer)."""
        if self.kind == "ebay":
            return {
                sku: min(quantity, self.offer_levels.get(sku, quantity))
                for sku, quantity in self.levels.items()
            }
        return dict(self.levels)

    def next_order_number(self) -> int:
        self._order_sequence += 1
        return self._order_sequence

    # -- eBay signing key -----------------------------------------------------------------

    @property
    def signing_key(self) -> Any:
        """The store's ECDSA key for eBay notifications (created on first use)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        with self.lock:
            if self._signing_key is None:
                self._signing_key = ec.generate_private_key(ec.SECP256R1())
            return self._signing_key

    @property
    def signing_kid(self) -> str:
        return f"sim-{self.name}-{stable_id(self.name, 'kid')}"


class SimulatorState:
    """Everything the running simulator knows, shared by all request threads."""

    def __init__(self, *, seed: int | None = None, webhook_timeout: float = 10.0) -> None:
        self.lock = threading.Lock()
        self.stores: dict[str, Store] = {}
        # Store name -> faults; "*" applies to every store without faults of its own.
        self.faults: dict[str, Faults] = {}
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._webhook_timeout = webhook_timeout
        self._webhook_client: httpx.Client | None = None

    @property
    def webhook_client(self) -> httpx.Client:
        """The client that delivers webhooks to the hub (created on first use)."""
        with self.lock:
            if self.stopping.is_set():
                raise RuntimeError("the simulator is stopping")
            if self._webhook_client is None:
                timeout = self._webhook_timeout
                self._webhook_client = httpx.Client(
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))
                )
            return self._webhook_client

    # -- stores ---------------------------------------------------------------------------

    def store(self, name: str) -> Store | None:
        with self.lock:
            return self.stores.get(name)

    def put_store(self, store: Store) -> None:
        with self.lock:
            previous = self.stores.get(store.name)
            self.stores[store.name] = store
        if previous is not None:
            previous.queue.close()

    def remove_store(self, name: str) -> bool:
        with self.lock:
            store = self.stores.pop(name, None)
        if store is not None:
            store.queue.close()
        return store is not None

    def all_stores(self) -> list[Store]:
        with self.lock:
            return list(self.stores.values())

    # -- faults ---------------------------------------------------------------------------

    def faults_for(self, store_name: str) -> Faults:
        with self.lock:
            return self.faults.get(store_name) or self.faults.get("*") or NO_FAULTS

    def set_faults(self, store_name: str | None, faults: Faults) -> None:
        with self.lock:
            self.faults[store_name or "*"] = faults
        self.wake()

    def clear_faults(self, store_name: str | None) -> None:
        with self.lock:
            if store_name is None:
                self.faults.clear()
            else:
                self.faults.pop(store_name, None)
        self.wake()

    # -- time and chance ------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Sleep, but return early when faults change or the simulator stops."""
        with self.lock:
            event = self._wake
        if not self.stopping.is_set():
            event.wait(seconds)

    def wake(self) -> None:
        with self.lock:
            event, self._wake = self._wake, threading.Event()
        event.set()

    def chance(self, probability: float) -> bool:
        with self.lock:
            return self.random.random() < probability

    def shuffle(self, items: list[Any]) -> None:
        with self.lock:
            self.random.shuffle(items)

    def close(self) -> None:
        self.stopping.set()
        self.wake()
        for store in self.all_stores():
            store.queue.close()
        with self.lock:
            client, self._webhook_client = self._webhook_client, None
        if client is not None:
            client.close()
