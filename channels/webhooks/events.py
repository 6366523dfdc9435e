"""Canonical events: what a channel told us, in the hub's words, independent of the wire."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OrderEventKind = Literal["placed", "cancelled", "fulfilled", "refunded"]


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int
    # The channel's stable id for the line, or the SKU when the channel has none: the
    # ledger keys an order's state machine on (channel, order, line_ref).
    line_ref: str
    # Only meaningful on refunds: whether the units go back on the shelf.
    restock: bool = False


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: OrderEventKind
    order_id: str
    lines: tuple[OrderLine, ...]
    occurred_at: datetime | None
    # The notification names only the order (eBay's ORDER_CONFIRMATION): the intake
    # worker reads its lines from the channel before applying it.
    lines_to_fetch: bool = False


@dataclass(frozen=True, slots=True)
class LevelReported:
    """A channel's own idea of a stock level; reconciliation compares it with the truth."""

    # None when the channel does not say (Shopify's inventory_levels/update): the listing
    # is then found by external_id.
    sku: str | None
    external_id: str
    # May be negative: Shopify reports oversold items below zero, and that is drift
    # reconciliation must see rather than a malformed delivery.
    quantity: int
    occurred_at: datetime | None
    # The channel's location the level is at, when it says (Shopify's location_id); only
    # the location the hub publishes to is the hub's business.
    location_id: str = ""

    def concerns_location(self, location: str) -> bool:
        """Whether this report is about ``location`` (numeric or global id, either side);
        a report or a listing without a location concerns every location."""
        if not self.location_id or not location:
            return True
        return str(location).rsplit("/", 1)[-1] == self.location_id.rsplit("/", 1)[-1]


CanonicalEvent = OrderEvent | LevelReported
