"""Every write to stock goes through a function of this package, one transaction each.

    catalogue     SKUs and locations (create, look up)
    stock         movements: receipt, return, adjustment, count, transfer; and
                  `movement_record`, the one entry point that owns each kind's rules
    reservations  units committed to order lines, released or shipped
    incidents     oversell incidents, opened, covered and resolved
    operations    the envelope every service runs in: idempotency, locks, movements

The ledger knows nothing of the apps above it: it tells them through `ledger.hooks`.
"""

from .catalogue import (
    RESERVED_SKU_CODES,
    location_create,
    location_default,
    location_get,
    location_update,
    sku_create,
    sku_get,
    skus_by_code,
    skus_create,
)
from .incidents import incident_resolve
from .operations import MAX_QUANTITY, Origin, stock_operations_batched
from .reservations import (
    OrderLineRequest,
    reservation_release,
    reservation_ship,
    stock_reserve,
    stock_reserve_order,
)
from .stock import (
    MOVEMENT_KINDS,
    movement_record,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_receive_lines,
    stock_return,
    stock_transfer,
)

__all__ = [
    "MAX_QUANTITY",
    "MOVEMENT_KINDS",
    "RESERVED_SKU_CODES",
    "OrderLineRequest",
    "Origin",
    "incident_resolve",
    "location_create",
    "location_default",
    "location_get",
    "location_update",
    "movement_record",
    "reservation_release",
    "reservation_ship",
    "sku_create",
    "sku_get",
    "skus_by_code",
    "skus_create",
    "stock_adjust",
    "stock_count",
    "stock_operations_batched",
    "stock_receive",
    "stock_receive_lines",
    "stock_reserve",
    "stock_reserve_order",
    "stock_return",
    "stock_transfer",
]
