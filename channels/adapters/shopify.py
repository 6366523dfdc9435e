"""Shopify: the GraphQL Admin API (the REST Admin API is legacy since 2024-10).

* Push: ``inventorySetQuantities`` with ``name: "available"``, ``reason: "correction"``,
  one ``changeFromQuantity`` per entry (compare-and-set: the last quantity the channel
  confirmed; ``null`` opts out) and an ``@idempotent`` key derived from the entries' keys
  and values, so resending the same batch can never apply it twice. Up to 250 entries.
* A ``CHANGE_FROM_QUANTITY_STALE`` user error means the shop sold (or someone edited) since
  the hub's last read: that entry's outcome is ``stale`` and the shop's stock is left
  alone. When Shopify refuses the whole mutation because of such errors, the other entries
  are resubmitted once more without them, under a new idempotency key.
* Throttling is cost based: Shopify meters GraphQL by *query cost* in points, not by
  requests (a bucket restoring 100 points/s on the Standard plan, 200 Advanced, 1,000
  Plus, 2,000 Enterprise; 1,000 points deep in the older documentation, which also caps a
  single query at 1,000). So the hub's bucket for a Shopify channel is in points too:
  ``rate_per_second`` is points/s and ``burst`` points, and every call hands the throttle
  its requested cost (:func:`mutation_cost`, :func:`nodes_cost`, :func:`connection_cost`:
  Shopify's documented model, as the simulator charges it). A merchant on a bigger plan
  raises the channel's rate. A throttled call still answers HTTP 200 with an error whose
  message is "Throttled"; the wait comes from ``extensions.cost.throttleStatus``.
* Idempotency errors (``InventorySetQuantitiesUserErrorCode``, Admin GraphQL reference,
  https://shopify.dev/docs/api/admin-graphql/latest/enums/InventorySetQuantitiesUserErrorCode):
  ``IDEMPOTENCY_CONCURRENT_REQUEST`` ("currently in progress, please try again") is
  transient: the entries get ``retry`` and the drainer resends the same key later, which
  then answers the first request's result. ``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`` ("retry
  with a new idempotency key", listed from 2026-04 on) means the key is spent: the batch
  is resent at once under the next key of a fixed chain (:func:`idempotency_key_for` with
  ``attempt``), so a later resend of the same batch still lands on a key Shopify knows.
* Read: ``nodes(ids:)`` on inventory items, ``inventoryLevel(locationId:)`` quantities
  named "available". Find: ``inventoryItems(query: "sku:...")``, page after page
  (``pageInfo.endCursor``), so a SKU several items share cannot push another SKU off the
  page. A SKU on more than one inventory item is not mapped automatically: which item
  the hub's number belongs to is the merchant's call (docs/decisions.md, 44).

Ids: ``ListingRef.external_id`` is the numeric inventory item id (what the
``inventory_levels/update`` webhook carries); global ids (``gid://shopify/...``) are also
accepted. The location comes from ``ListingRef.external_location_id`` or
``settings["location_id"]``. Credentials: ``access_token`` (X-Shopify-Access-Token).
Settings: ``location_id``, optional ``api_version`` (default 2026-01).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from channels.adapters.base import (
    ChannelAdapter,
    ChannelError,
    ChannelNeedsAction,
    ChannelRejected,
    ChannelThrottled,
    ChannelUnavailable,
    LevelPush,
    ListingRef,
    PushOutcome,
    chunked,
    outcomes_for_error,
)

API_VERSION = "2026-01"
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
# Namespace of the idempotency keys (uuid5 of the batch's entries).
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c2e-5a7b-4c8d-9e0f-1a2b3c4d5e6f")
# SKUs per inventoryItems search: keeps the search string short. A page asks for as many
# items as the search names SKUs; more pages follow while Shopify has more (shared SKUs).
FIND_CHUNK = 50
# Shopify's idempotency user errors (see the module notes).
CONCURRENT_CODE = "IDEMPOTENCY_CONCURRENT_REQUEST"
PREVIOUS_FAILED_CODE = "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"
# The location does not exist in the shop (deleted, or a wrong id in the settings): no
# entry for it can work until the merchant picks another, so the channel pauses.
INVALID_LOCATION_CODE = "INVALID_LOCATION"
# Keys tried in one call after IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED before giving up.
MAX_KEY_ATTEMPTS = 3
# The wait suggested after IDEMPOTENCY_CONCURRENT_REQUEST (Shopify names none).
CONCURRENT_RETRY_AFTER = 2.0
# Requested query cost in points: a mutation costs 10, an object 1 and a connection 2
# plus what it may return; the simulator charges the same.
MUTATION_COST = 10

SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "%(key)s") {
    inventoryAdjustmentGroup {
      id
      changes { name delta quantityAfterChange item { id sku } location { id } }
    }
    userErrors { code field message }
  }
}
"""

READ_ITEMS = """
query ReadAvailable($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      sku
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""

FIND_ITEMS = """
query FindItems($query: String!, $first: Int!, $after: String) {
  inventoryItems(first: $first, query: $query, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      sku
      inventoryLevels(first: 1) {
        nodes { location { id } quantities(names: ["available"]) { name quantity } }
      }
    }
  }
}
"""


def idempotency_key_for(
    batch: Sequence[LevelPush], attempt: int = 0, *, locations: Sequence[str] = ()
) -> str:
    """The @idempotent key of one inventorySetQuantities call.

    Shopify treats a request with a known key as a duplicate and returns the first answer,
    so the key names exactly this request: the entries' own keys *and* what is asked of
    each (item, location, quantity, changeFromQuantity). Resending the same batch after a
    timeout reuses it; a push with a refreshed ``expected`` after a stale answer, or to
    another location after the merchant corrected it, is a new request. ``locations``
    are the entries' location ids, in the batch's order. ``attempt`` walks a fixed chain
    of further keys for the same request, used after Shopify answered
    IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED for the ones before.
    """
    where = list(locations) or [""] * len(batch)
    material = sorted(
        f"{p.key}|{p.ref.external_id}|{location}|{p.quantity}|{p.expected}"
        for p, location in zip(batch, where, strict=True)
    )
    if attempt:
        material.append(f"attempt|{attempt}")
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "\n".join(material)))


def to_gid(kind: str, value: str) -> str:
    value = str(value)
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def from_gid(value: str) -> str:
    """``gid://shopify/InventoryItem/42`` -> ``42`` (numeric ids are what webhooks carry)."""
    return str(value).rsplit("/", 1)[-1]


def mutation_cost() -> float:
    """``inventorySetQuantities``: a mutation, whatever its number of entries."""
    return float(MUTATION_COST)


def nodes_cost(ids: int) -> float:
    """``nodes(ids:)`` on inventory items: 1, plus per id the item and its level."""
    return float(1 + 2 * ids)


def connection_cost(first: int) -> float:
    """``inventoryItems(first:)``: 2 for the connection, plus 2 per item it may return."""
    return float(2 + 2 * first)


def search_literal(sku: str) -> str:
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    return f'sku:"{escaped}"'


def available_quantity(level: dict[str, Any] | None) -> int | None:
    if not level:
        return None
    for quantity in level.get("quantities") or ():
        if quantity.get("name") == "available":
            return quantity.get("quantity")
    return None


class ShopifyAdapter(ChannelAdapter):
    kind = "shopify"
    max_batch = 250
    supports_compare_and_set = True
    # The hub's bucket in query-cost points (see the module notes): the Standard plan's
    # restore rate and the documented bucket. Every call passes its requested cost, so a
    # 250-item read (501 points) and a mutation (10) are paced by what they spend.
    rate_per_second = 100.0
    burst = 1000

    @classmethod
    def cycle_cost(cls, n: int) -> float:
        if not n:
            return 0.0
        batches = math.ceil(n / cls.max_batch)
        return batches * mutation_cost() + sum(
            nodes_cost(min(cls.max_batch, n - start)) for start in range(0, n, cls.max_batch)
        )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # SKU -> the inventory item ids that share it (found by find_listings).
        self.ambiguous: dict[str, list[str]] = {}

    @property
    def graphql_url(self) -> str:
        version = self.settings.get("api_version") or API_VERSION
        return f"{self.base_url}/admin/api/{version}/graphql.json"

    def _location_gid(self, ref: ListingRef) -> str:
        location = ref.external_location_id or self.settings.get("location_id")
        if not location:
            raise ChannelNeedsAction(
                "shopify: no location id (settings.location_id) configured",
                action="Shopify needs the location the hub publishes to: set location_id "
                "in the channel's settings (Settings → Locations in Shopify shows the id).",
            )
        return to_gid("Location", str(location))

    # -- transport ------------------------------------------------------------------------

    def _graphql(self, query: str, variables: dict[str, Any], *, cost: float) -> dict[str, Any]:
        """POST one GraphQL document of requested cost ``cost`` (points, taken from the
        hub's bucket first); returns ``data`` or raises a ChannelError."""
        token = self.credentials.get("access_token")
        if not token:
            raise ChannelRejected("shopify: credentials have no access_token")
        response = self._send(
            "POST",
            self.graphql_url,
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": str(token)},
            cost=cost,
        )
        body = self._json(response)
        errors = body.get("errors")
        if errors:
            raise self._graphql_error(errors, body.get("extensions") or {})
        data = body.get("data")
        if not isinstance(data, dict):
            raise ChannelUnavailable("shopify: GraphQL answer without data")
        return data

    def _graphql_error(self, errors: Any, extensions: dict[str, Any]) -> ChannelError:
        if not isinstance(errors, list):  # REST-style {"errors": "message"}
            return ChannelRejected(f"shopify: {errors}")
        codes = {((e.get("extensions") or {}).get("code") or "") for e in errors}
        messages = "; ".join(str(e.get("message", "")) for e in errors)
        if "THROTTLED" in codes or any(e.get("message") == "Throttled" for e in errors):
            return ChannelThrottled(
                f"shopify: {messages}", retry_after=self._throttle_wait(extensions)
            )
        if "INTERNAL_SERVER_ERROR" in codes:
            return ChannelUnavailable(f"shopify: {messages}")
        if "ACCESS_DENIED" in codes:
            # "Access denied for <field>. Required access: <scope>", with the scope in
            # extensions.requiredAccess (shopify.dev/changelog/new-error-messages-for-
            # graphql-operations-without-necessary-access-scopes).
            required = "; ".join(
                str((e.get("extensions") or {}).get("requiredAccess") or "")
                for e in errors
                if (e.get("extensions") or {}).get("code") == "ACCESS_DENIED"
            ).strip("; ")
            return ChannelNeedsAction(
                f"shopify: {messages}",
                action=f"The Shopify app lacks {required or 'an access scope'}: grant it in "
                "the app's settings (e.g. write_inventory), then resume the channel.",
            )
        return ChannelRejected(f"shopify: {messages}")

    def _error_for_response(self, response: Any, what: str) -> ChannelError:
        error = super()._error_for_response(response, what)
        if response.status_code == 401:
            # "Invalid API key or access token": the token was revoked or the app removed.
            return ChannelNeedsAction(
                str(error),
                action="Shopify refused the access token: reinstall the app or paste a new "
                "Admin API access token into the channel's credentials.",
                status_code=401,
            )
        return error

    @staticmethod
    def _throttle_wait(extensions: dict[str, Any]) -> float | None:
        cost = extensions.get("cost") or {}
        status = cost.get("throttleStatus") or {}
        restore = status.get("restoreRate")
        if not restore:
            return None
        requested = cost.get("requestedQueryCost") or 0
        available = status.get("currentlyAvailable") or 0
        return max(0.0, (requested - available) / restore)

    # -- push -----------------------------------------------------------------------------

    def push_levels(self, pushes: Sequence[LevelPush]) -> list[PushOutcome]:
        self._check_batch(pushes)
        ready, outcomes = self._resolve_listing_ids(pushes)
        for outcome in outcomes.values():
            if ids := self.ambiguous.get(outcome.ref.sku):
                outcome.error = (
                    f"shopify: SKU {outcome.ref.sku!r} is on {len(ids)} inventory items "
                    f"({', '.join(ids)}): give each its own SKU in Shopify, or map the "
                    "listing to one of them by hand"
                )
        pending = sorted(ready)
        attempt = 0
        # Each resubmission drops at least one entry or spends a key, so this ends.
        while pending:
            batch = [ready[i] for i in pending]
            try:
                result = self._set_quantities(batch, attempt=attempt)
            except ChannelNeedsAction:
                raise  # the channel pauses; nothing is spent (drain.py)
            except ChannelError as exc:
                if not outcomes:
                    raise
                unsent = outcomes_for_error([p.ref for p in batch], exc)
                outcomes.update(zip(pending, unsent, strict=True))
                break
            user_errors = result.get("userErrors") or []
            codes = {error.get("code") for error in user_errors}
            if PREVIOUS_FAILED_CODE in codes and attempt + 1 < MAX_KEY_ATTEMPTS:
                # The key is spent, nothing was applied: the same entries under the next key.
                attempt += 1
                continue
            if codes & {CONCURRENT_CODE, PREVIOUS_FAILED_CODE}:
                message = "; ".join(
                    f"{e.get('code')}: {e.get('message', '')}"
                    for e in user_errors
                    if e.get("code") in (CONCURRENT_CODE, PREVIOUS_FAILED_CODE)
                )
                for position, i in enumerate(pending):
                    outcomes[i] = PushOutcome(
                        ref=batch[position].ref,
                        status="retry",
                        error=f"shopify: {message}",
                        retry_after=CONCURRENT_RETRY_AFTER,
                    )
                break
            by_position, general = self._index_user_errors(user_errors, len(batch))
            if INVALID_LOCATION_CODE in codes:
                raise self._location_gone(batch, by_position, user_errors)
            for position, error in by_position.items():
                outcomes[pending[position]] = self._error_outcome(batch[position], error)
            if general:
                message = "; ".join(e.get("message", "") for e in general)
                for position, i in enumerate(pending):
                    outcomes.setdefault(
                        i, PushOutcome(ref=batch[position].ref, status="failed", error=message)
                    )
                break
            if not user_errors or result.get("inventoryAdjustmentGroup") is not None:
                for position, i in enumerate(pending):
                    outcomes.setdefault(i, PushOutcome(ref=batch[position].ref, status="accepted"))
                break
            # Shopify refused the whole mutation: push the rest without the refused entries.
            pending = [i for position, i in enumerate(pending) if position not in by_position]
        self._fill_stale_quantities(outcomes.values())
        return [outcomes[i] for i in range(len(pushes))]

    def _set_quantities(self, batch: Sequence[LevelPush], *, attempt: int = 0) -> dict[str, Any]:
        locations = [self._location_gid(p.ref) for p in batch]
        key = idempotency_key_for(batch, attempt, locations=locations)
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": f"gid://inventory-hub/OutboxBatch/{key}",
                "quantities": [
                    {
                        "inventoryItemId": to_gid("InventoryItem", p.ref.external_id),
                        "locationId": location,
                        "quantity": p.quantity,
                        "changeFromQuantity": p.expected,
                    }
                    for p, location in zip(batch, locations, strict=True)
                ],
            }
        }
        data = self._graphql(SET_QUANTITIES % {"key": key}, variables, cost=mutation_cost())
        result = data.get("inventorySetQuantities")
        if not isinstance(result, dict):
            raise ChannelUnavailable("shopify: inventorySetQuantities answered nothing")
        return result

    @staticmethod
    def _index_user_errors(
        user_errors: list[dict[str, Any]], size: int
    ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        """Split user errors into those about one entry (by position) and the rest.

        A field path looks like ``["input", "quantities", "3", "changeFromQuantity"]``.
        """
        by_position: dict[int, dict[str, Any]] = {}
        general: list[dict[str, Any]] = []
        for error in user_errors:
            field = error.get("field") or []
            position = None
            if len(field) >= 3 and field[1] == "quantities":
                try:
                    position = int(field[2])
                except (TypeError, ValueError):
                    position = None
            if position is not None and 0 <= position < size:
                by_position.setdefault(position, error)
            else:
                general.append(error)
        return by_position, general

    def _location_gone(
        self,
        batch: Sequence[LevelPush],
        by_position: dict[int, dict[str, Any]],
        user_errors: list[dict[str, Any]],
    ) -> ChannelNeedsAction:
        locations = sorted(
            {
                from_gid(self._location_gid(batch[position].ref))
                for position, error in by_position.items()
                if error.get("code") == INVALID_LOCATION_CODE
            }
        )
        message = "; ".join(
            str(e.get("message", "")) for e in user_errors if e.get("code") == INVALID_LOCATION_CODE
        )
        return ChannelNeedsAction(
            f"shopify: {INVALID_LOCATION_CODE}: {message}",
            action=f"Shopify has no location {', '.join(locations) or 'of that id'}: set "
            "location_id in the channel's settings to one of the shop's locations "
            "(Settings → Locations in Shopify), then Try again.",
        )

    @staticmethod
    def _error_outcome(push: LevelPush, error: dict[str, Any]) -> PushOutcome:
        code = error.get("code") or ""
        message = f"{code}: {error.get('message', '')}".strip(": ")
        status = "stale" if code in STALE_CODES else "failed"
        return PushOutcome(ref=push.ref, status=status, error=message)

    def _fill_stale_quantities(self, outcomes: Any) -> None:
        """Tell the caller what the shop holds now for stale entries (best effort)."""
        stale = [o for o in outcomes if o.status == "stale"]
        if not stale:
            return
        try:
            levels = self.read_levels([o.ref for o in stale])
        except ChannelError:
            return
        for outcome in stale:
            outcome.channel_quantity = levels.get(outcome.ref.sku)

    # -- read -----------------------------------------------------------------------------

    def read_levels(self, refs: Sequence[ListingRef]) -> dict[str, int | None]:
        levels: dict[str, int | None] = {ref.sku: None for ref in refs}
        unmapped = [ref.sku for ref in refs if not ref.external_id]
        known = [ref for ref in refs if ref.external_id]
        if unmapped:
            found = self.find_listings(unmapped)
            known.extend(found.values())
        by_location: dict[str, list[ListingRef]] = defaultdict(list)
        for ref in known:
            by_location[self._location_gid(ref)].append(ref)
        for location, location_refs in by_location.items():
            for chunk in chunked(location_refs, self.max_batch):
                sku_by_gid = {to_gid("InventoryItem", r.external_id): r.sku for r in chunk}
                data = self._graphql(
                    READ_ITEMS,
                    {"ids": list(sku_by_gid), "locationId": location},
                    cost=nodes_cost(len(sku_by_gid)),
                )
                for node in data.get("nodes") or ():
                    if not node or node.get("id") not in sku_by_gid:
                        continue
                    levels[sku_by_gid[node["id"]]] = available_quantity(node.get("inventoryLevel"))
        return levels

    def find_listings(self, skus: Sequence[str]) -> dict[str, ListingRef]:
        """Inventory items by SKU. Shopify lets variants share a SKU, so one search may
        answer several items for one SKU: every page is read, and a SKU found on more
        than one item is left out (``ambiguous`` names its items) rather than guessed."""
        wanted = set(skus)
        items: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for chunk in chunked(list(dict.fromkeys(skus)), FIND_CHUNK):
            query = " OR ".join(search_literal(sku) for sku in chunk)
            after: str | None = None
            while True:
                data = self._graphql(
                    FIND_ITEMS,
                    {"query": query, "first": len(chunk), "after": after},
                    cost=connection_cost(len(chunk)),
                )
                connection = data.get("inventoryItems") or {}
                for node in connection.get("nodes") or ():
                    sku = node.get("sku")
                    if sku in wanted and node.get("id"):
                        items[sku].setdefault(str(node["id"]), node)
                page = connection.get("pageInfo") or {}
                after = page.get("endCursor")
                if not page.get("hasNextPage") or not after:
                    break
        found: dict[str, ListingRef] = {}
        for sku, nodes in items.items():
            if len(nodes) > 1:
                self.ambiguous[sku] = sorted(from_gid(gid) for gid in nodes)
                continue
            [node] = nodes.values()
            levels = (node.get("inventoryLevels") or {}).get("nodes") or []
            # With location_id set, the listing follows the setting (a change to it takes
            # effect); without, the item's own location is the listing's.
            location = (
                ""
                if self.settings.get("location_id")
                else (from_gid(levels[0]["location"]["id"]) if levels else "")
            )
            found[sku] = ListingRef(
                sku=sku, external_id=from_gid(node["id"]), external_location_id=str(location)
            )
        return found
