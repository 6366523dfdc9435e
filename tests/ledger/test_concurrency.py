"""Concurrency claims, proven with concurrency: many threads, each with its own
PostgreSQL connection, hitting the same SKUs; then the ledger invariant is checked."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from ledger.errors import InsufficientStock
from ledger.models import Reservation, StockLevel
from ledger.selectors import ledger_mismatches
from ledger.services import (
    OrderLineRequest,
    location_default,
    stock_receive,
    stock_reserve,
    stock_reserve_order,
)
from tests.factories import LocationFactory, SkuFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.slow]


def run_concurrently(count: int, work) -> list[str]:
    """Start `count` threads behind a barrier so they really collide; each uses (and
    closes) its own database connection."""
    barrier = threading.Barrier(count)

    def one(index: int) -> str:
        try:
            barrier.wait(timeout=60)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_200_threads_reserving_one_unit_of_100_never_oversell():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=100)

    def reserve(index: int) -> str:
        try:
            stock_reserve(sku=sku, quantity=1, order_id=f"order-{index}")
        except InsufficientStock:
            return "insufficient_stock"
        return "reserved"

    outcomes = Counter(run_concurrently(200, reserve))
    assert outcomes == {"reserved": 100, "insufficient_stock": 100}
    level = StockLevel.objects.get(sku=sku, location=location_default())
    assert (level.on_hand, level.committed) == (100, 100)
    assert Reservation.objects.filter(sku=sku).count() == 100
    assert ledger_mismatches() == []


def test_opposite_order_multi_line_reservations_do_not_deadlock():
    first, second = SkuFactory(), SkuFactory()
    stock_receive(sku=first, quantity=150)
    stock_receive(sku=second, quantity=150)

    def reserve(index: int) -> str:
        pair = [first, second] if index % 2 else [second, first]
        try:
            stock_reserve_order(
                order_id=f"order-{index}",
                lines=[OrderLineRequest(sku=sku, quantity=1) for sku in pair],
            )
        except InsufficientStock:
            return "insufficient_stock"
        return "reserved"

    # Any deadlock would surface here as a DatabaseError raised to the caller.
    outcomes = Counter(run_concurrently(200, reserve))
    assert outcomes == {"reserved": 150, "insufficient_stock": 50}
    for sku in (first, second):
        level = StockLevel.objects.get(sku=sku, location=location_default())
        assert (level.on_hand, level.committed) == (150, 150)
    assert ledger_mismatches() == []


def test_split_reservations_across_locations_under_contention():
    sku = SkuFactory()
    store = LocationFactory(priority=50)
    stock_receive(sku=sku, quantity=30)
    stock_receive(sku=sku, quantity=30, location=store)

    def reserve(index: int) -> str:
        try:
            stock_reserve(sku=sku, quantity=7, order_id=f"order-{index}")
        except InsufficientStock:
            return "insufficient_stock"
        return "reserved"

    outcomes = Counter(run_concurrently(40, reserve))
    assert outcomes["reserved"] == 60 // 7
    committed = sum(StockLevel.objects.filter(sku=sku).values_list("committed", flat=True))
    assert committed == 7 * (60 // 7)
    assert all(level.committed <= level.on_hand for level in StockLevel.objects.filter(sku=sku))
    assert ledger_mismatches() == []


def test_concurrent_retries_with_one_idempotency_key_apply_once():
    from ledger.services import Origin

    sku = SkuFactory()

    def receive(index: int) -> str:
        operation = stock_receive(sku=sku, quantity=5, origin=Origin(idempotency_key="same"))
        return str(operation.pk)

    operations = set(run_concurrently(20, receive))
    assert len(operations) == 1
    assert StockLevel.objects.get(sku=sku).on_hand == 5
    assert ledger_mismatches() == []
