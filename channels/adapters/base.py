"""The one interface every channel adapter implements, and what they share.

An adapter is a plain class that talks to one sales channel over HTTP. It knows the
channel's wire format and nothing about the hub's models: it takes plain data
(:class:`ListingRef`, :class:`LevelPush`) and returns plain data (:class:`PushOutcome`,
dicts of quantities), so the outbox drainer, reconciliation and the tests can all drive it
the same way.

Error contract
--------------
* A failure of the whole call raises a :class:`ChannelError`: :class:`ChannelThrottled`
  (HTTP 429 or the channel's own throttle signal, with ``retry_after`` in seconds when the
  channel says), :class:`ChannelUnavailable` (5xx, timeouts, refused connections: worth
  retrying) or :class:`ChannelRejected` (other 4xx, bad credentials, a request the channel
  will never accept: retrying the same call is pointless).
* What happens to each item is reported in its :class:`PushOutcome`. When one
  ``push_levels`` call needs several HTTP requests (WooCommerce variations live under their
  parent product, Shopify resubmits the entries a compare-and-set refusal held back) and a
  request fails after other items already have a result, the adapter does not raise: those
  items keep their outcome and the unsent ones get ``retry`` (with ``retry_after``) or
  ``failed``, so an accepted write or a stale answer is never lost to an exception.
* "accepted" only means the channel took the write. The hub confirms by reading back
  (``read_levels``): channels acknowledge writes they have not applied.

Every HTTP call goes through :meth:`ChannelAdapter._send`, which applies the adapter's
explicit timeout and maps transport failures and status codes onto the exceptions above.
Before each request it calls the ``throttle`` hook with the request's cost: 1 by default,
the GraphQL query cost in points for Shopify (whose budget is points, not requests).
First it checks where the request goes (:mod:`foundation.egress`): an address inside
the hub's network is a :class:`ChannelRejected` naming it (the push goes to the DLQ, and
nothing is sent) unless ``CHANNEL_ALLOW_PRIVATE_NETWORKS`` is on. Redirects are never
followed: a 3xx is a refusal like any other 4xx, so the credentials never travel further
than the address they were given for.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import importlib
import math
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from foundation.egress import EgressRefused, EgressUnresolved, check_outbound_url

PushStatus = Literal["accepted", "stale", "retry", "deferred", "failed"]
T = TypeVar("T")


@dataclass(frozen=True)
class ListingRef:
    """How the channel identifies one SKU."""

    sku: str
    # Shopify inventory item id, WooCommerce product or variation id, eBay offer id...
    external_id: str = ""
    # WooCommerce: the parent (variable) product of a variation. Amazon: the listing's
    # product type (its listings are keyed by SKU; every PATCH names the product type).
    external_parent_id: str = ""
    # Shopify: the location whose level the hub publishes.
    external_location_id: str = ""


@dataclass(frozen=True)
class LevelPush:
    """One quantity to publish for one listing."""

    ref: ListingRef
    quantity: int
    # The last quantity the channel confirmed: compare-and-set where the channel supports
    # it. None = unknown, push unconditionally.
    expected: int | None
    # Idempotency key of this outbox entry version: a retry of the same version reuses it.
    key: str


@dataclass
class PushOutcome:
    """What became of one :class:`LevelPush`.

    ``accepted``: the channel took it (still to be confirmed by a read-back); ``stale``:
    compare-and-set refused it because the channel's quantity changed; ``retry``: transient,
    push again later; ``deferred``: never sent, because the hub's own budget for the channel
    ran out first (no attempt spent); ``failed``: permanent for this payload.
    """

    ref: ListingRef
    status: PushStatus
    error: str = ""
    retry_after: float | None = None
    # The channel's quantity when the answer told us (e.g. the value that made it stale).
    channel_quantity: int | None = None


class ChannelError(Exception):
    """A call to a channel failed as a whole."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ChannelThrottled(ChannelError):
    """The channel asked us to slow down (HTTP 429 or its own throttle signal)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int | None = 429
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ChannelUnavailable(ChannelError):
    """Transient: 5xx, a timeout, a refused or dropped connection."""


class ChannelNotSent(ChannelError):
    """The hub held the request back: its own budget for the channel (the throttle hook's
    token bucket) is spent for longer than it will wait. Nothing reached the channel and
    the channel did not fail; ``wait`` is when the budget allows the request."""

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class ChannelRejected(ChannelError):
    """Permanent: a 4xx other than 429, bad credentials, a malformed request."""


class ChannelNeedsAction(ChannelRejected):
    """Nothing will work until the merchant acts: an expired or revoked credential, a
    missing scope, a location or product type the channel does not know. ``action`` says
    what to do in the merchant's words ("eBay refresh token revoked: reconnect the
    account"); the drainer pauses the channel's pushes on it instead of filling the DLQ."""

    def __init__(self, message: str, *, action: str, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.action = action


# The channel kinds as a merchant names them, for what the hub tells the merchant.
# (Adapters import no models: `channels.models.ChannelKind` holds the longer labels.)
KIND_NAMES = {
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
    "amazon": "Amazon",
    "ebay": "eBay",
    "standard": "The storefront",
    "sandbox": "The sandbox store",
}


class CredentialStore(Protocol):
    """Where a channel's credentials live, for an adapter that renews a token in them
    (eBay's user access token). ``renew`` takes a lock that other processes respect,
    reads the stored credentials afresh, calls ``change`` with them and stores what it
    returns (None: nothing to store, another process renewed meanwhile); it returns the
    credentials as they now are. An exception from ``change`` stores nothing."""

    def renew(
        self, change: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    ) -> Mapping[str, Any]: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Fractional seconds are accepted because Shopify sends ``Retry-After: 2.0``.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def outcomes_for_error(refs: Iterable[ListingRef], error: ChannelError) -> list[PushOutcome]:
    """Per-item outcomes for items a failed request left unpushed (see the module notes)."""
    if isinstance(error, ChannelRejected):
        return [PushOutcome(ref=ref, status="failed", error=str(error)) for ref in refs]
    if isinstance(error, ChannelNotSent):
        return [
            PushOutcome(ref=ref, status="deferred", error=str(error), retry_after=error.wait)
            for ref in refs
        ]
    retry_after = error.retry_after if isinstance(error, ChannelThrottled) else None
    return [
        PushOutcome(ref=ref, status="retry", error=str(error), retry_after=retry_after)
        for ref in refs
    ]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process. Building one loads the CA bundle, which
    costs more CPU than a whole push to a channel; every adapter's client shares it."""
    return httpx.create_ssl_context()  # what httpx builds per client by default


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ChannelAdapter(ABC):
    """Base class of the per-kind adapters.

    ``credentials`` and ``settings`` are the channel's stored (decrypted) mappings;
    ``settings["base_url"]`` is not read here: the caller passes ``base_url`` explicitly.
    Pass ``client`` to share a connection pool; an adapter that created its own client
    closes it in :meth:`close` (adapters are also context managers).
    """

    kind: ClassVar[str]
    # Most entries one push_levels call accepts.
    max_batch: ClassVar[int]
    # Whether LevelPush.expected is enforced by the channel (compare-and-set).
    supports_compare_and_set: ClassVar[bool] = False
    # Default budget for the hub's per-channel token bucket, in the unit the adapter's
    # requests cost (see _send): requests for most kinds, query-cost points for Shopify.
    rate_per_second: ClassVar[float]
    burst: ClassVar[int]
    # How many times a day one listing may be revised (None: no cap); see
    # channels.revisions, which spends it.
    revisions_per_listing_per_day: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, Any],
        settings: Mapping[str, Any],
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        throttle: Callable[[float], None] | None = None,
        credential_store: CredentialStore | None = None,
    ) -> None:
        if not base_url:
            raise ChannelRejected(f"{self.kind}: the channel has no base_url")
        self.base_url = base_url.rstrip("/")
        self.credentials = dict(credentials)
        self.settings = dict(settings)
        self.timeout = httpx.Timeout(timeout)
        # Called before every HTTP request with its cost: the hub's shared token bucket for
        # the channel (it waits, or raises a ChannelError when the wait would be too long).
        self.throttle = throttle
        # Where a renewed token is kept (None: renewed in this adapter's memory only).
        self.credential_store = credential_store
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(timeout=self.timeout, verify=tls_context(), follow_redirects=False)
        )

    # -- the interface --------------------------------------------------------------------

    @abstractmethod
    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        """Publish quantities; one outcome per push, in the same order.

        More than ``max_batch`` pushes is a programming error (ValueError).
        """

    @abstractmethod
    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        """The channel's current quantity per SKU (None: not found on the channel)."""

    @abstractmethod
    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        """Look the channel's ids up by SKU, for automatic mapping. Best effort: SKUs the
        channel does not know are simply absent from the result."""

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers for subclasses -----------------------------------------------------------

    def _check_batch(self, pushes: Sequence[LevelPush]) -> None:
        if len(pushes) > self.max_batch:
            raise ValueError(
                f"{self.kind}: {len(pushes)} pushes in one call, the most is {self.max_batch}"
            )

    @classmethod
    def cycle_cost(cls, n: int) -> float:
        """What pushing n listings and reading them back costs of the channel's budget
        (the units of ``rate_per_second``): by default one request per batch each way."""
        return 2.0 * math.ceil(n / cls.max_batch) if n else 0.0

    def _resolve_listing_ids(
        self, pushes: Sequence[LevelPush]
    ) -> tuple[dict[int, LevelPush], dict[int, PushOutcome]]:
        """Fill in channel ids the hub does not know yet by looking the SKUs up.

        Returns the pushes ready to send and ``failed`` outcomes for SKUs the channel does
        not list, both keyed by position. Ids the hub already has win over looked-up ones.
        """
        missing = [push.ref.sku for push in pushes if not push.ref.external_id]
        found = self.find_listings(missing) if missing else {}
        ready: dict[int, LevelPush] = {}
        failed: dict[int, PushOutcome] = {}
        for position, push in enumerate(pushes):
            if push.ref.external_id:
                ready[position] = push
                continue
            looked_up = found.get(push.ref.sku)
            if looked_up is None:
                failed[position] = PushOutcome(
                    ref=push.ref,
                    status="failed",
                    error=f"{self.kind}: SKU {push.ref.sku!r} is not listed on the channel",
                )
                continue
            ref = dataclasses.replace(
                looked_up,
                external_parent_id=push.ref.external_parent_id or looked_up.external_parent_id,
                external_location_id=(
                    push.ref.external_location_id or looked_up.external_location_id
                ),
            )
            ready[position] = dataclasses.replace(push, ref=ref)
        return ready, failed

    def _send(
        self,
        method: str,
        url: str,
        *,
        expected: Iterable[int] = (),
        cost: float = 1.0,
        **kwargs: Any,
    ) -> httpx.Response:
        """One HTTP request with the adapter's timeout, failures mapped to ChannelError.

        Statuses in ``expected`` are returned as they are (e.g. 404 on a read means "not
        found", not an error); any other status outside 2xx raises. ``cost`` is what the
        request spends of the channel's budget (``rate_per_second``/``burst`` units).
        """
        target = urlsplit(url).path
        try:
            check_outbound_url(url)
        except EgressUnresolved as exc:
            raise ChannelUnavailable(f"{self.kind}: {method} {target}: {exc}") from None
        except EgressRefused as exc:
            raise ChannelRejected(f"{self.kind}: {method} {target}: {exc}") from None
        if self.throttle is not None:
            self.throttle(cost)
        try:
            # Never follow a redirect, whoever made the client: the request carries the
            # channel's credentials, and they go only where the channel's settings say.
            response = self._client.request(
                method, url, timeout=self.timeout, follow_redirects=False, **kwargs
            )
        except httpx.TimeoutException as exc:
            raise ChannelUnavailable(f"{self.kind}: {method} {target} timed out") from exc
        except httpx.TransportError as exc:
            raise ChannelUnavailable(f"{self.kind}: {method} {target} failed: {exc}") from exc
        if response.status_code in set(expected) or response.is_success:
            return response
        raise self._error_for_response(response, f"{method} {target}")

    def _error_for_response(self, response: httpx.Response, what: str) -> ChannelError:
        status = response.status_code
        message = f"{self.kind}: {what} answered {status}"
        detail = response.text[:300].strip()
        if detail:
            message = f"{message}: {detail}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = self._default_retry_after(response)
            return ChannelThrottled(message, retry_after=retry_after, status_code=status)
        if status >= 500 or status == 408:
            return ChannelUnavailable(message, status_code=status)
        if status in (401, 403):
            # The credential is refused (expired, revoked, lacking a scope): no push can
            # work until the merchant acts, so the drainer pauses the channel rather than
            # dead-lettering every entry. An adapter that knows better (which scope, a
            # token to refresh first) raises its own ChannelNeedsAction before this.
            name = KIND_NAMES.get(self.kind, self.kind)
            return ChannelNeedsAction(
                message,
                action=f"{name} refused the credentials: update them on the channel page",
                status_code=status,
            )
        return ChannelRejected(message, status_code=status)

    def _default_retry_after(self, response: httpx.Response) -> float | None:
        """The wait to suggest on a 429 without Retry-After: one token of our own budget."""
        return 1.0 / self.rate_per_second if self.rate_per_second else None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ChannelUnavailable(
                f"{self.kind}: {response.request.method} {response.request.url.path} "
                f"answered {response.status_code} with a body that is not JSON"
            ) from exc


ADAPTER_CLASSES: dict[str, str] = {
    "shopify": "channels.adapters.shopify.ShopifyAdapter",
    "woocommerce": "channels.adapters.woocommerce.WooCommerceAdapter",
    "amazon": "channels.adapters.amazon.AmazonAdapter",
    "ebay": "channels.adapters.ebay.EbayAdapter",
    "standard": "channels.adapters.standard.StandardAdapter",
    "sandbox": "channels.adapters.sandbox.SandboxAdapter",
}


def adapter_class(kind: str) -> type[ChannelAdapter]:
    """The adapter class for a channel kind (its capabilities are class attributes).

    Modules are imported on first use so that e.g. the Amazon SDK is only loaded by
    processes that talk to Amazon.
    """
    try:
        dotted = ADAPTER_CLASSES[kind]
    except KeyError:
        raise ValueError(f"unknown channel kind {kind!r}") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def adapter_for(kind: str, **kwargs: Any) -> ChannelAdapter:
    """An adapter instance for a channel kind; ``kwargs`` go to its constructor."""
    return adapter_class(kind)(**kwargs)
