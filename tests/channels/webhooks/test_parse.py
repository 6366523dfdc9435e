"""parse_events: each channel's topics become canonical events, or a clear refusal."""

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from channels.webhooks.errors import MalformedDelivery
from channels.webhooks.events import LevelReported, OrderEvent, OrderLine
from channels.webhooks.parse import parse_events

from .support import fixture_json

EST = timezone(timedelta(hours=-5))


def only_event(kind: str, topic: str, payload: Any) -> OrderEvent | LevelReported:
    events = parse_events(kind, topic, payload)
    assert len(events) == 1
    return events[0]


# --- Shopify ---------------------------------------------------------------------


def test_shopify_order_created_places_the_lines_that_have_a_sku() -> None:
    event = only_event("shopify", "orders/create", fixture_json("shopify/orders_create.json"))

    # The gift-wrapping line has no SKU and moves no stock; the SKU is trimmed.
    assert event == OrderEvent(
        kind="placed",
        order_id="5871234567890",
        lines=(
            OrderLine(sku="BEANIE-CHAR", quantity=2, line_ref="14400001111001"),
            OrderLine(sku="SOCK-M", quantity=1, line_ref="14400001111002"),
        ),
        occurred_at=datetime(2025, 11, 3, 14, 22, 9, tzinfo=EST),
    )


def test_shopify_order_cancelled() -> None:
    event = only_event("shopify", "orders/cancelled", fixture_json("shopify/orders_cancelled.json"))

    assert isinstance(event, OrderEvent)
    assert event.kind == "cancelled"
    assert [line.line_ref for line in event.lines] == ["14400001111001", "14400001111002"]
    assert event.occurred_at == datetime(2025, 11, 3, 16, 5, 39, tzinfo=EST)


def test_shopify_order_fulfilled() -> None:
    event = only_event("shopify", "orders/fulfilled", fixture_json("shopify/orders_fulfilled.json"))

    assert event == OrderEvent(
        kind="fulfilled",
        order_id="5871234567891",
        lines=(OrderLine(sku="BEANIE-CHAR", quantity=1, line_ref="14400001112001"),),
        occurred_at=datetime(2025, 11, 5, 11, 30, tzinfo=EST),
    )


def test_shopify_refund_restocks_only_returned_lines() -> None:
    event = only_event("shopify", "refunds/create", fixture_json("shopify/refunds_create.json"))

    assert event == OrderEvent(
        kind="refunded",
        order_id="5871234567891",
        lines=(
            OrderLine(sku="BEANIE-CHAR", quantity=1, line_ref="14400001112001", restock=True),
            OrderLine(sku="SOCK-M", quantity=1, line_ref="14400001112002", restock=False),
        ),
        occurred_at=datetime(2025, 11, 8, 10, 15, 2, tzinfo=EST),
    )


@pytest.mark.parametrize(
    ("restock_type", "restock"), [("cancel", True), ("legacy_restock", True), ("no_restock", False)]
)
def test_shopify_refund_restock_types(restock_type: str, restock: bool) -> None:
    payload = fixture_json("shopify/refunds_create.json")
    payload["refund_line_items"][0]["restock_type"] = restock_type

    event = only_event("shopify", "refunds/create", payload)

    assert isinstance(event, OrderEvent)
    assert event.lines[0].restock is restock


def test_shopify_legacy_refund_restock_flag_restocks_every_line() -> None:
    payload = fixture_json("shopify/refunds_create.json")
    payload["restock"] = True
    for item in payload["refund_line_items"]:
        del item["restock_type"]

    event = only_event("shopify", "refunds/create", payload)

    assert isinstance(event, OrderEvent)
    assert all(line.restock for line in event.lines)


def test_shopify_inventory_level_reports_by_inventory_item() -> None:
    event = only_event(
        "shopify", "inventory_levels/update", fixture_json("shopify/inventory_levels_update.json")
    )

    assert event == LevelReported(
        sku=None,
        external_id="46200000000101",
        quantity=17,
        occurred_at=datetime(2025, 11, 3, 14, 22, 10, tzinfo=EST),
        location_id="24826418",
    )


def test_shopify_oversold_level_is_reported_below_zero() -> None:
    payload = {**fixture_json("shopify/inventory_levels_update.json"), "available": -3}

    event = only_event("shopify", "inventory_levels/update", payload)

    assert isinstance(event, LevelReported)
    assert event.quantity == -3


def test_shopify_untracked_level_reports_nothing() -> None:
    payload = {**fixture_json("shopify/inventory_levels_update.json"), "available": None}

    assert parse_events("shopify", "inventory_levels/update", payload) == []


@pytest.mark.parametrize("topic", ["orders/updated", "products/update", "app/uninstalled"])
def test_shopify_topics_we_do_not_act_on(topic: str) -> None:
    assert parse_events("shopify", topic, fixture_json("shopify/orders_create.json")) == []


def test_shopify_order_of_only_untracked_items_reports_nothing() -> None:
    payload = fixture_json("shopify/orders_create.json")
    payload["line_items"] = payload["line_items"][2:]

    assert parse_events("shopify", "orders/create", payload) == []


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return changed


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


ORDER = fixture_json("shopify/orders_create.json")
REFUND = fixture_json("shopify/refunds_create.json")
LEVEL = fixture_json("shopify/inventory_levels_update.json")


@pytest.mark.parametrize(
    ("topic", "payload", "complaint"),
    [
        ("orders/create", _without(ORDER, "id"), r"^id must be"),
        ("orders/create", _with(ORDER, ["x"], "line_items"), r"^line_items\[0\] must be a JSON"),
        ("refunds/create", _with(REFUND, " ", "order_id"), r"^order_id must be a non-empty"),
        (
            "orders/create",
            _with(ORDER, 0, "line_items", 0, "quantity"),
            r"line_items\[0\]\.quantity must be between 1",
        ),
        (
            "orders/create",
            _with(ORDER, "2", "line_items", 0, "quantity"),
            r"line_items\[0\]\.quantity must be a whole number, got a string",
        ),
        (
            "orders/create",
            _with(ORDER, 2.5, "line_items", 0, "quantity"),
            r"must be a whole number",
        ),
        ("orders/create", _with(ORDER, True, "line_items", 0, "quantity"), r"got a boolean"),
        (
            "orders/create",
            _with(ORDER, 1_000_000_001, "line_items", 0, "quantity"),
            r"between 1 and 1000000000",
        ),
        (
            "orders/create",
            _with(ORDER, "X" * 101, "line_items", 0, "sku"),
            r"line_items\[0\]\.sku is longer than 100",
        ),
        ("orders/create", _with(ORDER, 42, "line_items", 0, "sku"), r"must be a string SKU"),
        (
            "orders/create",
            _with(ORDER, "yesterday", "created_at"),
            r"created_at must be an ISO-8601",
        ),
        ("orders/create", _without(ORDER, "line_items", 1, "id"), r"line_items\[1\]\.id must be"),
        (
            "refunds/create",
            _without(REFUND, "refund_line_items", 0, "line_item"),
            r"refund_line_items\[0\]\.line_item must be a JSON object",
        ),
        ("inventory_levels/update", _without(LEVEL, "available"), r"available is missing"),
        ("inventory_levels/update", _without(LEVEL, "inventory_item_id"), r"inventory_item_id"),
        ("inventory_levels/update", _with(LEVEL, [1], "location_id"), r"location_id"),
        (
            "inventory_levels/update",
            _with(LEVEL, 10**12, "available"),
            r"between -1000000000 and 1000000000",
        ),
    ],
)
def test_shopify_malformed_payloads_say_what_is_wrong(
    topic: str, payload: Any, complaint: str
) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_events("shopify", topic, payload)


def test_payload_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(
        MalformedDelivery, match="shopify payload must be a JSON object, got an array"
    ):
        parse_events("shopify", "orders/create", [])


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no webhook parser"):
        parse_events("myspace", "orders/create", {})


# --- WooCommerce -----------------------------------------------------------------

WOO_ORDER = fixture_json("woocommerce/order_created.json")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("pending", "placed"),
        ("on-hold", "placed"),
        ("processing", "placed"),
        ("completed", "fulfilled"),
        ("cancelled", "cancelled"),
        ("failed", "cancelled"),
    ],
)
def test_woocommerce_order_status_maps_to_an_event(status: str, kind: str) -> None:
    event = only_event("woocommerce", "order.updated", {**WOO_ORDER, "status": status})

    # The tea towel has an empty SKU and is skipped.
    assert event == OrderEvent(
        kind=kind,  # type: ignore[arg-type]
        order_id="727",
        lines=(OrderLine(sku="MUG-BLUE", quantity=3, line_ref="315"),),
        occurred_at=datetime(2025, 11, 3, 15, 28, 8, tzinfo=UTC),
    )


def test_woocommerce_refunded_order_restocks_its_lines() -> None:
    event = only_event(
        "woocommerce", "order.updated", fixture_json("woocommerce/order_refunded.json")
    )

    assert isinstance(event, OrderEvent)
    assert event.kind == "refunded"
    assert event.lines == (OrderLine(sku="MUG-BLUE", quantity=3, line_ref="315", restock=True),)


@pytest.mark.parametrize("status", ["checkout-draft", "trash", "wc-awaiting-shipment"])
def test_woocommerce_statuses_that_move_no_stock(status: str) -> None:
    assert parse_events("woocommerce", "order.created", {**WOO_ORDER, "status": status}) == []


def test_woocommerce_product_update_reports_the_level() -> None:
    event = only_event(
        "woocommerce", "product.updated", fixture_json("woocommerce/product_updated.json")
    )

    assert event == LevelReported(
        sku="MUG-BLUE",
        external_id="118",
        quantity=41,
        occurred_at=datetime(2025, 11, 3, 15, 28, 8, tzinfo=UTC),
    )


@pytest.mark.parametrize("manage_stock", [False, "parent", None])
def test_woocommerce_product_without_its_own_stock_reports_nothing(manage_stock: Any) -> None:
    payload = {**fixture_json("woocommerce/product_updated.json"), "manage_stock": manage_stock}

    assert parse_events("woocommerce", "product.updated", payload) == []


def test_woocommerce_product_without_sku_reports_by_id() -> None:
    payload = {**fixture_json("woocommerce/product_updated.json"), "sku": ""}

    event = only_event("woocommerce", "product.updated", payload)

    assert isinstance(event, LevelReported)
    assert (event.sku, event.external_id) == (None, "118")


@pytest.mark.parametrize(
    ("topic", "payload", "complaint"),
    [
        ("order.created", _without(WOO_ORDER, "status"), r"^status must be a non-empty string"),
        (
            "order.created",
            _with(WOO_ORDER, -1, "line_items", 0, "quantity"),
            r"line_items\[0\]\.quantity",
        ),
        (
            "order.created",
            _with(WOO_ORDER, "not a date", "date_modified_gmt"),
            r"date_modified_gmt",
        ),
        (
            "product.updated",
            {"id": 118, "manage_stock": True, "stock_quantity": None},
            r"stock_quantity must be a whole number, got null",
        ),
    ],
)
def test_woocommerce_malformed_payloads(topic: str, payload: Any, complaint: str) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_events("woocommerce", topic, payload)


def test_woocommerce_deleted_order_moves_nothing() -> None:
    assert parse_events("woocommerce", "order.deleted", {"id": 727}) == []


# --- Standard Webhooks / sandbox --------------------------------------------------

STANDARD_ORDER = fixture_json("standard/order_created.json")


@pytest.mark.parametrize("kind", ["standard", "sandbox"])
def test_standard_order_follows_the_public_contract(kind: str) -> None:
    event = only_event(kind, "order.created", STANDARD_ORDER)

    assert event == OrderEvent(
        kind="placed",
        order_id="SF-100234",
        lines=(
            OrderLine(sku="MUG-BLUE", quantity=2, line_ref="MUG-BLUE"),
            OrderLine(sku="BEANIE-CHAR", quantity=1, line_ref="SF-100234-2"),
        ),
        occurred_at=datetime(2025, 11, 3, 15, 28, 8, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("order.cancelled", "cancelled"),
        ("order.fulfilled", "fulfilled"),
        ("order.refunded", "refunded"),
    ],
)
def test_standard_order_types(event_type: str, kind: str) -> None:
    payload = {
        "type": event_type,
        "timestamp": "2025-11-03T16:00:00Z",
        "data": {
            "order_id": "SF-1",
            "lines": [{"sku": "MUG-BLUE", "quantity": 1, "restock": True}],
        },
    }

    assert parse_events("standard", event_type, payload) == [
        OrderEvent(
            kind=kind,  # type: ignore[arg-type]
            order_id="SF-1",
            lines=(OrderLine(sku="MUG-BLUE", quantity=1, line_ref="MUG-BLUE", restock=True),),
            occurred_at=datetime(2025, 11, 3, 16, tzinfo=UTC),
        )
    ]


def test_standard_inventory_level() -> None:
    event = only_event("standard", "inventory.level", fixture_json("standard/inventory_level.json"))

    assert event == LevelReported(
        sku="MUG-BLUE",
        external_id="MUG-BLUE",
        quantity=12,
        occurred_at=datetime(2025, 11, 3, 15, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("topic", "payload", "complaint"),
    [
        ("order.created", _without(STANDARD_ORDER, "data"), r"^data must be a JSON object"),
        ("order.created", _without(STANDARD_ORDER, "data", "order_id"), r"data\.order_id"),
        (
            "order.created",
            _with(STANDARD_ORDER, "   ", "data", "lines", 0, "sku"),
            r"data\.lines\[0\]\.sku must be a non-empty SKU",
        ),
        (
            "order.created",
            _with(STANDARD_ORDER, "yes", "data", "lines", 0, "restock"),
            r"restock must be true or false",
        ),
        (
            "order.created",
            _with(STANDARD_ORDER, 0, "data", "lines", 1, "quantity"),
            r"data\.lines\[1\]\.quantity",
        ),
        (
            "inventory.level",
            {"type": "inventory.level", "data": {"sku": "MUG-BLUE"}},
            r"data\.quantity",
        ),
    ],
)
def test_standard_malformed_payloads(topic: str, payload: Any, complaint: str) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_events("standard", topic, payload)


def test_standard_other_types_are_ignored() -> None:
    assert parse_events("standard", "customer.created", {"type": "customer.created"}) == []


# --- eBay ------------------------------------------------------------------------

EBAY_ORDER = fixture_json("ebay/order_confirmation.json")


def test_ebay_order_confirmation_names_the_order_whose_lines_the_worker_fetches() -> None:
    event = only_event("ebay", "ORDER_CONFIRMATION", EBAY_ORDER)

    assert event == OrderEvent(
        kind="placed",
        order_id="12-11223-44556",
        lines=(),
        occurred_at=datetime(2025, 12, 2, 18, 4, 31, 512000, tzinfo=UTC),
        lines_to_fetch=True,
    )


def test_ebay_order_confirmation_without_an_order_id_is_malformed() -> None:
    payload = _without(EBAY_ORDER, "notification", "data", "orderId")

    with pytest.raises(MalformedDelivery, match=r"notification\.data\.orderId"):
        parse_events("ebay", "ORDER_CONFIRMATION", payload)


def test_ebay_item_marked_shipped_carries_its_lines() -> None:
    event = only_event(
        "ebay", "ITEM_MARKED_SHIPPED", _with(EBAY_ORDER, "ITEM_MARKED_SHIPPED", "metadata", "topic")
    )

    assert event == OrderEvent(
        kind="fulfilled",
        order_id="12-11223-44556",
        lines=(OrderLine(sku="MUG-BLUE", quantity=1, line_ref="10071234567001"),),
        occurred_at=datetime(2025, 12, 2, 18, 4, 31, 512000, tzinfo=UTC),
    )


def test_ebay_shipped_without_line_items_is_malformed() -> None:
    # The unverified-shape assumption failing loudly, so it lands in the DLQ.
    payload = _with(
        _without(EBAY_ORDER, "notification", "data", "lineItems"),
        "ITEM_MARKED_SHIPPED",
        "metadata",
        "topic",
    )

    with pytest.raises(
        MalformedDelivery, match=r"notification\.data\.lineItems must be a JSON array"
    ):
        parse_events("ebay", "ITEM_MARKED_SHIPPED", payload)


def test_ebay_item_availability_is_not_a_stock_report() -> None:
    # A buyer-side availability topic (AVAILABLE / UNAVAILABLE ...): never a quantity.
    payload = fixture_json("ebay/item_availability.json")

    assert parse_events("ebay", "ITEM_AVAILABILITY", payload) == []


# --- Amazon ----------------------------------------------------------------------

AMAZON_ORDER = fixture_json("amazon/order_change.json")
SUMMARY = ("Payload", "OrderChangeNotification", "Summary")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("Pending", "placed"),
        ("Unshipped", "placed"),
        ("Canceled", "cancelled"),
        ("Shipped", "fulfilled"),
    ],
)
def test_amazon_order_change(status: str, kind: str) -> None:
    event = only_event(
        "amazon", "ORDER_CHANGE", _with(AMAZON_ORDER, status, *SUMMARY, "OrderStatus")
    )

    assert event == OrderEvent(
        kind=kind,  # type: ignore[arg-type]
        order_id="114-2345678-9012345",
        lines=(
            OrderLine(sku="MUG-BLUE", quantity=2, line_ref="51234567890123"),
            OrderLine(sku="BEANIE-CHAR", quantity=1, line_ref="51234567890124"),
        ),
        occurred_at=datetime(2025, 11, 3, 15, 29, 50, 284000, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "status", ["PartiallyShipped", "Unfulfillable", "InvoiceUnconfirmed", "PendingAvailability"]
)
def test_amazon_statuses_that_move_no_stock(status: str) -> None:
    assert (
        parse_events("amazon", "ORDER_CHANGE", _with(AMAZON_ORDER, status, *SUMMARY, "OrderStatus"))
        == []
    )


def test_amazon_fba_orders_ship_from_amazons_stock_not_ours() -> None:
    assert (
        parse_events(
            "amazon", "ORDER_CHANGE", _with(AMAZON_ORDER, "AFN", *SUMMARY, "FulfillmentType")
        )
        == []
    )


def test_amazon_order_change_without_change_time_uses_event_time() -> None:
    payload = _with(
        AMAZON_ORDER,
        None,
        "Payload",
        "OrderChangeNotification",
        "OrderChangeTrigger",
        "TimeOfOrderChange",
    )

    event = only_event("amazon", "ORDER_CHANGE", payload)

    assert event.occurred_at == datetime(2025, 11, 3, 15, 29, 53, 109000, tzinfo=UTC)


def test_amazon_mfn_quantity_change_reports_a_level_even_at_zero() -> None:
    event = only_event(
        "amazon",
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
        fixture_json("amazon/listings_item_mfn_quantity_change.json"),
    )

    assert event == LevelReported(
        sku="MUG-BLUE",
        external_id="MUG-BLUE",
        quantity=0,
        occurred_at=datetime(2025, 11, 3, 15, 31, 30, 194000, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("topic", "payload", "complaint"),
    [
        (
            "ORDER_CHANGE",
            _without(AMAZON_ORDER, *SUMMARY, "OrderItems"),
            r"Summary\.OrderItems must be a JSON array",
        ),
        (
            "ORDER_CHANGE",
            _without(AMAZON_ORDER, *SUMMARY, "OrderItems", 0, "SellerSKU"),
            r"OrderItems\[0\]\.SellerSKU",
        ),
        (
            "ORDER_CHANGE",
            _without(AMAZON_ORDER, "Payload", "OrderChangeNotification", "AmazonOrderId"),
            r"AmazonOrderId",
        ),
        (
            "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            {"Payload": {"Sku": "MUG-BLUE"}},
            r"Payload\.Quantity",
        ),
    ],
)
def test_amazon_malformed_payloads(topic: str, payload: Any, complaint: str) -> None:
    with pytest.raises(MalformedDelivery, match=complaint):
        parse_events("amazon", topic, payload)


def test_ebay_order_confirmation_per_line_item_names_only_the_order():
    # Fields beside orderId are not eBay's schema: the lines come from getOrder.
    from channels.webhooks.events import OrderEvent
    from channels.webhooks.parse import parse_events

    payload = {
        "metadata": {"topic": "ORDER_CONFIRMATION"},
        "notification": {
            "notificationId": "n-1",
            "eventDate": "2026-11-23T12:00:00.000Z",
            "data": {"orderId": "01-1", "lineItemId": "77", "sku": "MUG", "quantity": 2},
        },
    }
    [event] = parse_events("ebay", "ORDER_CONFIRMATION", payload)
    assert isinstance(event, OrderEvent)
    assert (event.kind, event.order_id, event.lines, event.lines_to_fetch) == (
        "placed",
        "01-1",
        (),
        True,
    )
