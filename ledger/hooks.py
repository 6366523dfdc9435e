"""How the ledger tells the layers above it that stock changed, without knowing them.

The ledger imports nothing from the apps above it. An app that must act on a stock change
in the same transaction (the channels app writes the outbox rows that push the new
published quantities) registers a callable here from its ``AppConfig.ready()``. The
ledger calls every registered callable inside the transaction that wrote the movements:
if one raises, the whole operation rolls back, so a movement never commits without the
work that must go with it. No Django model signals: the calls are explicit, typed and
in registration order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Sku

# "The stock of these SKUs changed": called with the SKU ids, inside the transaction.
StockChanged = Callable[[Collection[int]], None]
# "These SKUs were just created": called with the new Sku rows, inside the transaction.
SkusCreated = Callable[[Sequence["Sku"]], None]

_stock_changed: list[StockChanged] = []
_skus_created: list[SkusCreated] = []


def on_stock_changed(hook: StockChanged) -> StockChanged:
    """Register `hook` (once; registering the same callable again does nothing)."""
    if hook not in _stock_changed:
        _stock_changed.append(hook)
    return hook


def on_skus_created(hook: SkusCreated) -> SkusCreated:
    """Register `hook` (once; registering the same callable again does nothing)."""
    if hook not in _skus_created:
        _skus_created.append(hook)
    return hook


def stock_changed(sku_ids: Collection[int]) -> None:
    """Called by the ledger's services inside the transaction that moved the stock."""
    if not sku_ids:
        return
    for hook in _stock_changed:
        hook(sku_ids)


def skus_created(skus: Sequence[Sku]) -> None:
    """Called by the ledger's catalogue service inside the transaction that created them."""
    if not skus:
        return
    for hook in _skus_created:
        hook(skus)
