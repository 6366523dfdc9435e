"""Turn a verified delivery's payload into canonical events.

Pure: ``parse_events(kind, topic, payload)`` reads only its arguments. It raises
TopicMismatch when the body contradicts its topic (topics.py), MalformedDelivery when a
topic we act on lacks what we need or holds what cannot be stored (_fields.py), and
returns [] for topics and states that do not move stock. Order lines without a SKU
(custom items, tips, gift cards, listings the merchant never gave a SKU) are skipped: the
hub has nothing to move for them, and refusing the whole order would lose the lines it
does track.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import _fields
from .errors import MalformedDelivery
from .events import CanonicalEvent, LevelReported, OrderEvent, OrderEventKind, OrderLine
from .topics import check_topic
from .verify import Delivery, make_dedupe_key

__all__ = ["ebay_order_lines", "parse_events"]


def parse_events(kind: str, topic: str, payload: Any) -> list[CanonicalEvent]:
    """Canonical events for one delivery of ``topic`` from a channel of ``kind``.

    ``payload`` is ``Delivery.payload``: for eBay and Amazon the whole envelope.
    """
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ValueError(f"no webhook parser for channel kind {kind!r}")
    body = _fields.mapping(payload, f"{kind} payload")
    # Before any field is read: a body under the wrong topic is refused as such, not
    # as a body missing that topic's fields.
    check_topic(kind, topic, body)
    return parser(topic, body)


# --- Shopify: the body is the REST resource of the topic ----------------------------

# REST restock_type values; NO_RESTOCK is the only one that leaves units with the buyer.
_SHOPIFY_RESTOCK_TYPES = frozenset({"return", "cancel", "legacy_restock"})
_SHOPIFY_ORDER_TOPICS: dict[str, tuple[OrderEventKind, tuple[str, ...]]] = {
    "orders/create": ("placed", ("created_at",)),
    "orders/cancelled": ("cancelled", ("cancelled_at", "updated_at")),
    "orders/fulfilled": ("fulfilled", ("updated_at",)),
}


def _parse_shopify(topic: str, payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    if topic in _SHOPIFY_ORDER_TOPICS:
        kind, time_fields = _SHOPIFY_ORDER_TOPICS[topic]
        lines = [
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(item.get("quantity"), f"{where}.quantity"),
                line_ref=_fields.reference(item.get("id"), f"{where}.id"),
            )
            for where, item, sku in _lines_with_sku(payload.get("line_items"), "line_items")
        ]
        return _order_event(
            kind,
            order_id=_fields.reference(payload.get("id"), "id"),
            lines=lines,
            occurred_at=_first_time(payload, time_fields),
        )
    if topic == "refunds/create":
        return _parse_shopify_refund(payload)
    if topic == "inventory_levels/update":
        if "available" not in payload:
            raise MalformedDelivery("available is missing from the inventory level")
        # Shopify sends null for items it does not track: there is no level to report.
        if payload["available"] is None:
            return []
        return [
            LevelReported(
                sku=None,
                external_id=_fields.identifier(
                    payload.get("inventory_item_id"), "inventory_item_id"
                ),
                quantity=_fields.level_quantity(payload["available"], "available"),
                occurred_at=_fields.timestamp(payload.get("updated_at"), "updated_at"),
                # A shop with several locations sends one report per location.
                location_id=""
                if payload.get("location_id") is None
                else _fields.identifier(payload["location_id"], "location_id"),
            )
        ]
    return []


def _parse_shopify_refund(payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    # Older refunds carry only the top-level flag; newer ones say it per line.
    restock_all = payload.get("restock") is True
    lines = []
    for where, item, sku in _lines_with_sku(
        payload.get("refund_line_items"), "refund_line_items", sku_from="line_item"
    ):
        restock_type = item.get("restock_type")
        # The refunded line's own id, so the refund lands on the line the order placed.
        line_id = item.get("line_item_id")
        if line_id is None:
            line_id = _fields.mapping(item.get("line_item"), f"{where}.line_item").get("id")
        lines.append(
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(item.get("quantity"), f"{where}.quantity"),
                line_ref=_fields.reference(line_id, f"{where}.line_item_id"),
                restock=restock_all
                or (
                    isinstance(restock_type, str) and restock_type.lower() in _SHOPIFY_RESTOCK_TYPES
                ),
            )
        )
    return _order_event(
        "refunded",
        order_id=_fields.reference(payload.get("order_id"), "order_id"),
        lines=lines,
        occurred_at=_first_time(payload, ("processed_at", "created_at")),
    )


# --- WooCommerce: the body is the REST v3 resource, built at delivery time ----------

# Statuses absent here (draft, checkout-draft, trash, custom ones) do not move stock.
_WOO_ORDER_STATUS: dict[str, OrderEventKind] = {
    "pending": "placed",
    "on-hold": "placed",
    "processing": "placed",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "failed": "cancelled",
    "refunded": "refunded",
}


def _parse_woocommerce(topic: str, payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    occurred_at = _fields.timestamp(payload.get("date_modified_gmt"), "date_modified_gmt")
    if topic in ("order.created", "order.updated"):
        kind = _WOO_ORDER_STATUS.get(_fields.text(payload.get("status"), "status"))
        if kind is None:
            return []
        lines = [
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(item.get("quantity"), f"{where}.quantity"),
                line_ref=_fields.reference(item.get("id"), f"{where}.id"),
                # A fully refunded order reports no per-line restock choice; the units
                # are assumed back on the shelf, and a count corrects it if not.
                restock=kind == "refunded",
            )
            for where, item, sku in _lines_with_sku(payload.get("line_items"), "line_items")
        ]
        return _order_event(
            kind,
            order_id=_fields.reference(payload.get("id"), "id"),
            lines=lines,
            occurred_at=occurred_at,
        )
    if topic in ("product.created", "product.updated"):
        # Variations say "parent" when the parent product holds the stock; that parent
        # sends its own product.updated. False means Woo does not count this item.
        if payload.get("manage_stock") is not True:
            return []
        return [
            LevelReported(
                sku=_fields.optional_sku(payload.get("sku"), "sku"),
                external_id=_fields.identifier(payload.get("id"), "id"),
                quantity=_fields.level_quantity(payload.get("stock_quantity"), "stock_quantity"),
                occurred_at=occurred_at,
            )
        ]
    return []


# --- Standard Webhooks and the sandbox: the hub's own contract (README) ----------------

_STANDARD_ORDER_TYPES: dict[str, OrderEventKind] = {
    "order.created": "placed",
    "order.cancelled": "cancelled",
    "order.fulfilled": "fulfilled",
    "order.refunded": "refunded",
}


def _parse_standard(topic: str, payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    if topic not in _STANDARD_ORDER_TYPES and topic != "inventory.level":
        return []
    occurred_at = _fields.timestamp(payload.get("timestamp"), "timestamp")
    data = _fields.mapping(payload.get("data"), "data")
    if topic == "inventory.level":
        sku = _fields.sku(data.get("sku"), "data.sku")
        return [
            LevelReported(
                sku=sku,
                external_id=sku,
                quantity=_fields.level_quantity(data.get("quantity"), "data.quantity"),
                occurred_at=occurred_at,
            )
        ]
    lines = []
    for index, raw in enumerate(_fields.items(data.get("lines"), "data.lines")):
        where = f"data.lines[{index}]"
        line = _fields.mapping(raw, where)
        # The contract's lines always name a SKU; a missing one is a broken sender.
        sku = _fields.sku(line.get("sku"), f"{where}.sku")
        line_id = line.get("line_id")
        lines.append(
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(line.get("quantity"), f"{where}.quantity"),
                line_ref=sku if line_id is None else _fields.reference(line_id, f"{where}.line_id"),
                restock=_fields.flag(line.get("restock"), f"{where}.restock"),
            )
        )
    return _order_event(
        _STANDARD_ORDER_TYPES[topic],
        order_id=_fields.reference(data.get("order_id"), "data.order_id"),
        lines=lines,
        occurred_at=occurred_at,
    )


# --- eBay: envelope {metadata, notification{data}} ----------------------------------

# ORDER_CONFIRMATION names the order and nothing else the hub can use: eBay's published
# schema (https://developer.ebay.com/api-docs/master/commerce/notification/asyncapi/
# order_confirmation.yaml) says one is sent per line item and "the seller looks up the
# orderId from the notification" to read the order, so the intake worker fetches the
# lines (getOrder) before applying it; lines inside `data` are not eBay's and are not read.
# ITEM_AVAILABILITY is a listing-availability topic for buyers (AVAILABLE, UNAVAILABLE,
# TEMPORARILY_UNAVAILABLE; https://developer.ebay.com/develop/api/buy/notification_events)
# that never carries a quantity: it moves nothing and is not a stock report.
# ASSUMPTION (unverified against a live account): ITEM_MARKED_SHIPPED carries data
# {orderId, lineItems: [{sku, quantity, lineItemId}]}. If eBay sends less, this raises
# MalformedDelivery and the intake parks the delivery as "unreadable" (stored, answered
# 200, shown to a person beside the orders; channels/intake/unreadable.py).
_EBAY_ORDER_TOPICS: dict[str, OrderEventKind] = {
    "ORDER_CONFIRMATION": "placed",
    "ITEM_MARKED_SHIPPED": "fulfilled",
}


def _parse_ebay(topic: str, payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    if topic not in _EBAY_ORDER_TOPICS:
        return []
    notification = _fields.mapping(payload.get("notification"), "notification")
    data = _fields.mapping(notification.get("data"), "notification.data")
    occurred_at = _fields.timestamp(notification.get("eventDate"), "notification.eventDate")
    order_id = _fields.reference(data.get("orderId"), "notification.data.orderId")
    if topic == "ORDER_CONFIRMATION":
        return [
            OrderEvent(
                kind="placed",
                order_id=order_id,
                lines=(),
                occurred_at=occurred_at,
                lines_to_fetch=True,
            )
        ]
    items = data.get("lineItems")
    if items is None and "sku" in data:
        items = [data]
    lines = ebay_order_lines(items, "notification.data.lineItems")
    return _order_event(
        _EBAY_ORDER_TOPICS[topic], order_id=order_id, lines=lines, occurred_at=occurred_at
    )


def ebay_order_lines(items: Any, where: str) -> list[OrderLine]:
    """eBay's ``lineItems`` (``lineItemId``, ``sku``, ``quantity``), as a notification
    and getOrder (the eBay adapter) both carry them; lines without a SKU are skipped."""
    lines = []
    for path, item, sku in _lines_with_sku(items, where):
        line_id = item.get("lineItemId")
        lines.append(
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(item.get("quantity"), f"{path}.quantity"),
                line_ref=sku
                if line_id is None
                else _fields.reference(line_id, f"{path}.lineItemId"),
            )
        )
    return lines


# --- Amazon SP-API: the SQS notification envelope -----------------------------------

# PartiallyShipped, Unfulfillable, InvoiceUnconfirmed and PendingAvailability move no
# stock by themselves.
_AMAZON_ORDER_STATUS: dict[str, OrderEventKind] = {
    "Pending": "placed",
    "Unshipped": "placed",
    "Canceled": "cancelled",
    "Shipped": "fulfilled",
}


def _parse_amazon(topic: str, payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    if topic == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE":
        body = _fields.mapping(payload.get("Payload"), "Payload")
        sku = _fields.sku(body.get("Sku"), "Payload.Sku")
        return [
            LevelReported(
                sku=sku,
                external_id=sku,
                quantity=_fields.level_quantity(body.get("Quantity"), "Payload.Quantity"),
                occurred_at=_fields.timestamp(payload.get("EventTime"), "EventTime"),
            )
        ]
    if topic != "ORDER_CHANGE":
        return []
    body = _fields.mapping(payload.get("Payload"), "Payload")
    change = _fields.mapping(body.get("OrderChangeNotification"), "Payload.OrderChangeNotification")
    summary = _fields.mapping(change.get("Summary"), "OrderChangeNotification.Summary")
    # AFN (FBA) orders ship from Amazon's warehouses, not from stock the hub holds.
    if summary.get("FulfillmentType") == "AFN":
        return []
    kind = _AMAZON_ORDER_STATUS.get(_fields.text(summary.get("OrderStatus"), "Summary.OrderStatus"))
    if kind is None:
        return []
    lines = []
    for index, raw in enumerate(_fields.items(summary.get("OrderItems"), "Summary.OrderItems")):
        where = f"Summary.OrderItems[{index}]"
        item = _fields.mapping(raw, where)
        sku = _fields.sku(item.get("SellerSKU"), f"{where}.SellerSKU")
        item_id = item.get("OrderItemId")
        lines.append(
            OrderLine(
                sku=sku,
                quantity=_fields.order_quantity(item.get("Quantity"), f"{where}.Quantity"),
                line_ref=sku
                if item_id is None
                else _fields.reference(item_id, f"{where}.OrderItemId"),
            )
        )
    trigger = change.get("OrderChangeTrigger")
    # TimeOfOrderChange is null when Amazon has no time for the change.
    changed_at = trigger.get("TimeOfOrderChange") if isinstance(trigger, Mapping) else None
    return _order_event(
        kind,
        order_id=_fields.reference(change.get("AmazonOrderId"), "AmazonOrderId"),
        lines=lines,
        occurred_at=_fields.timestamp(changed_at, "OrderChangeTrigger.TimeOfOrderChange")
        or _fields.timestamp(payload.get("EventTime"), "EventTime"),
    )


_PARSERS: dict[str, Callable[[str, Mapping[str, Any]], list[CanonicalEvent]]] = {
    "shopify": _parse_shopify,
    "woocommerce": _parse_woocommerce,
    "standard": _parse_standard,
    "sandbox": _parse_standard,
    "ebay": _parse_ebay,
    "amazon": _parse_amazon,
}


# --- helpers ------------------------------------------------------------------------


def _lines_with_sku(
    value: Any, where: str, *, sku_from: str | None = None
) -> list[tuple[str, Mapping[str, Any], str]]:
    """(path, item, sku) for each line that names a SKU; see the module note on skips.

    ``sku_from`` names a nested object holding the SKU (Shopify refund lines keep it
    on their ``line_item``).
    """
    found = []
    for index, raw in enumerate(_fields.items(value, where)):
        path = f"{where}[{index}]"
        item = _fields.mapping(raw, path)
        holder, holder_path = item, path
        if sku_from is not None:
            holder_path = f"{path}.{sku_from}"
            holder = _fields.mapping(item.get(sku_from), holder_path)
        sku = _fields.optional_sku(holder.get("sku"), f"{holder_path}.sku")
        if sku is not None:
            found.append((path, item, sku))
    return found


def _order_event(
    kind: OrderEventKind, *, order_id: str, lines: list[OrderLine], occurred_at: datetime | None
) -> list[CanonicalEvent]:
    # An order with no tracked lines changes nothing the hub holds.
    if not lines:
        return []
    return [OrderEvent(kind=kind, order_id=order_id, lines=tuple(lines), occurred_at=occurred_at)]


def _first_time(payload: Mapping[str, Any], names: tuple[str, ...]) -> datetime | None:
    for name in names:
        if payload.get(name) is not None:
            return _fields.timestamp(payload[name], name)
    return None


# --- Amazon: SQS notifications (no HTTP webhook, no signature) ----------------------


def parse_amazon_notification(message_body: str | bytes) -> Delivery:
    """Read one SP-API notification from an SQS message body.

    No signature exists: trust comes from the queue's IAM policy, which only Amazon's
    principal may send to.
    """
    payload = _fields.mapping(_fields.parse_json(message_body, source="Amazon"), "Amazon message")
    metadata = _fields.mapping(payload.get("NotificationMetadata"), "NotificationMetadata")
    notification_id = _fields.text(
        metadata.get("NotificationId"), "NotificationMetadata.NotificationId"
    )
    return Delivery(
        dedupe_key=make_dedupe_key(notification_id),
        topic=_fields.topic(payload.get("NotificationType"), "NotificationType"),
        source_timestamp=_fields.lenient_timestamp(payload.get("EventTime")),
        payload=payload,
    )
