"""A small client for the simulator's control API (tests, the demo seeding command)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import httpx


class SimulatorError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"simulator answered {status}: {body}")
        self.status = status
        self.body = body


class SimulatorClient:
    def __init__(
        self, url: str, *, client: httpx.Client | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, f"{self.url}/_control/{path}", **kwargs)
        body = response.json() if response.content else None
        if response.is_error:
            raise SimulatorError(response.status_code, body)
        return body

    # -- stores ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def create_store(
        self,
        kind: str,
        store: str,
        *,
        levels: Mapping[str, int] | None = None,
        webhook_url: str = "",
        webhook_secret: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Create or replace a store; ``options``: rate_limit, credentials, variations,
        seller_id, marketplace_id, product_type, revisions_per_listing_per_day,
        token_lifetime_seconds and unpublished_skus (eBay)."""
        payload = {
            "kind": kind,
            "store": store,
            "levels": dict(levels or {}),
            "webhook_url": webhook_url,
            **options,
        }
        if webhook_secret is not None:
            payload["webhook_secret"] = webhook_secret
        return self._call("POST", "stores", json=payload)

    def stores(self) -> list[dict[str, Any]]:
        return self._call("GET", "stores")

    def store(self, store: str) -> dict[str, Any]:
        return self._call("GET", f"stores/{store}")

    def delete_store(self, store: str) -> None:
        self._call("DELETE", f"stores/{store}")

    def levels(self, store: str) -> dict[str, int]:
        return self._call("GET", f"stores/{store}/levels")

    def set_levels(self, store: str, levels: Mapping[str, int]) -> dict[str, int]:
        return self._call("POST", f"stores/{store}/levels", json=dict(levels))

    def log(self, store: str) -> list[dict[str, Any]]:
        return self._call("GET", f"stores/{store}/log")

    # -- orders and events ----------------------------------------------------------------

    def place_order(
        self, store: str, lines: Sequence[Mapping[str, Any]], **options: Any
    ) -> dict[str, Any]:
        """Sell one order; ``options``: duplicates, shuffle, allow_oversell, order_id."""
        return self._call("POST", f"stores/{store}/orders", json={"lines": list(lines), **options})

    def place_orders(
        self, store: str, orders: Sequence[Mapping[str, Any]], **options: Any
    ) -> dict[str, Any]:
        """Sell several orders (``[{"lines": [...], "order_id"?}]``) in one call."""
        return self._call(
            "POST", f"stores/{store}/orders", json={"orders": list(orders), **options}
        )

    def send_event(self, store: str, **event: Any) -> dict[str, Any]:
        return self._call("POST", f"stores/{store}/events", json=event)

    # -- faults and stats -----------------------------------------------------------------

    def set_faults(self, store: str | None = None, **faults: Any) -> dict[str, Any]:
        payload = {**faults, **({"store": store} if store else {})}
        return self._call("POST", "faults", json=payload)

    def faults(self) -> dict[str, Any]:
        """Faults in force, by store name ("*": every store without its own)."""
        return self._call("GET", "faults")

    def clear_faults(self, store: str | None = None) -> None:
        self._call("DELETE", "faults", params={"store": store} if store else None)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._call("DELETE", "stats")
