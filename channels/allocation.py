"""How much a channel may sell: a pure function of available stock and one rule.

    base      = max(available, 0)                       # pool
              = floor(max(available, 0) * share / 100)  # share
              = min(fixed, max(available, 0))           # fixed
    published = max(0, floor(base - buffer_units - base * buffer_percent / 100))

Property-tested in tests/channels/test_allocation.py: never negative, never above
available, shares that sum to at most 100% never publish more than available together,
monotonic in available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Rule:
    mode: str = "pool"
    share_percent: Decimal = Decimal(100)
    fixed_quantity: int = 0
    buffer_units: int = 0
    buffer_percent: Decimal = Decimal(0)

    @classmethod
    def of(cls, rule) -> Rule:
        """From an AllocationRule row (or anything with the same attributes)."""
        return cls(
            mode=rule.mode,
            share_percent=Decimal(rule.share_percent),
            fixed_quantity=rule.fixed_quantity,
            buffer_units=rule.buffer_units,
            buffer_percent=Decimal(rule.buffer_percent),
        )


POOL = Rule()


def published_quantity(available: int, rule: Rule) -> int:
    stock = max(available, 0)
    if rule.mode == "share":
        base = math.floor(stock * Decimal(rule.share_percent) / 100)
    elif rule.mode == "fixed":
        base = min(rule.fixed_quantity, stock)
    else:
        base = stock
    buffered = Decimal(base) - rule.buffer_units - Decimal(base) * rule.buffer_percent / 100
    return max(0, math.floor(buffered))
