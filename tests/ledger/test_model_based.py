"""A hypothesis state machine drives random sequences of stock operations against the
services and a plain-Python model; after every step the two must agree, and the
ledger must equal the sum of its movements."""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ledger.errors import InsufficientStock, InvalidState
from ledger.models import Location, Reservation, StockLevel
from ledger.selectors import ledger_mismatches
from ledger.services import (
    location_default,
    reservation_release,
    reservation_ship,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_reserve,
    stock_return,
    stock_transfer,
)
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db

codes = itertools.count()


class StockMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.sku = SkuFactory(code=f"MODEL-{next(codes)}")
        self.places = [
            location_default(),
            Location.objects.get_or_create(code="model-b", defaults={"name": "B", "priority": 5})[
                0
            ],
        ]
        self.on_hand = [0, 0]
        self.committed = [0, 0]
        self.open: dict[int, list[int]] = {}  # reservation id -> units per location

    def available(self, i: int) -> int:
        return self.on_hand[i] - self.committed[i]

    @rule(i=st.integers(0, 1), quantity=st.integers(1, 20))
    def receive(self, i, quantity):
        stock_receive(sku=self.sku, quantity=quantity, location=self.places[i])
        self.on_hand[i] += quantity

    @rule(i=st.integers(0, 1), quantity=st.integers(1, 5))
    def give_back(self, i, quantity):
        stock_return(sku=self.sku, quantity=quantity, location=self.places[i])
        self.on_hand[i] += quantity

    @rule(i=st.integers(0, 1), delta=st.integers(-10, 10).filter(bool))
    def adjust(self, i, delta):
        if self.available(i) + delta < 0:
            with pytest.raises(InsufficientStock):
                stock_adjust(sku=self.sku, quantity=delta, location=self.places[i])
            return
        stock_adjust(sku=self.sku, quantity=delta, location=self.places[i])
        self.on_hand[i] += delta

    @rule(i=st.integers(0, 1), counted=st.integers(0, 30))
    def count(self, i, counted):
        if counted < self.committed[i]:
            with pytest.raises(InsufficientStock):
                stock_count(sku=self.sku, counted=counted, location=self.places[i])
            return
        stock_count(sku=self.sku, counted=counted, location=self.places[i])
        self.on_hand[i] = counted

    @rule(i=st.integers(0, 1), quantity=st.integers(1, 10))
    def transfer(self, i, quantity):
        j = 1 - i
        if self.available(i) < quantity:
            with pytest.raises(InsufficientStock):
                stock_transfer(
                    sku=self.sku,
                    quantity=quantity,
                    from_location=self.places[i],
                    to_location=self.places[j],
                )
            return
        stock_transfer(
            sku=self.sku,
            quantity=quantity,
            from_location=self.places[i],
            to_location=self.places[j],
        )
        self.on_hand[i] -= quantity
        self.on_hand[j] += quantity

    @rule(quantity=st.integers(1, 15))
    def reserve_anywhere(self, quantity):
        # The default location has priority 0, "model-b" priority 5: take in that order.
        total = max(self.available(0), 0) + max(self.available(1), 0)
        order_id = f"o{len(self.open)}-{next(codes)}"
        if total < quantity:
            with pytest.raises(InsufficientStock):
                stock_reserve(sku=self.sku, quantity=quantity, order_id=order_id)
            return
        reservation = stock_reserve(sku=self.sku, quantity=quantity, order_id=order_id)
        take = [0, 0]
        remaining = quantity
        for i in (0, 1):
            take[i] = min(max(self.available(i), 0), remaining)
            remaining -= take[i]
            self.committed[i] += take[i]
        self.open[reservation.pk] = take

    @rule(data=st.data(), ship=st.booleans())
    def close(self, data, ship):
        if not self.open:
            return
        pk = data.draw(st.sampled_from(sorted(self.open)))
        reservation = Reservation.objects.get(pk=pk)
        take = self.open.pop(pk)
        (reservation_ship if ship else reservation_release)(reservation=reservation)
        for i in (0, 1):
            self.committed[i] -= take[i]
            if ship:
                self.on_hand[i] -= take[i]
        with pytest.raises(InvalidState):
            reservation_release(reservation=reservation)

    @invariant()
    def hub_agrees_with_model(self):
        for i, place in enumerate(self.places):
            level = StockLevel.objects.filter(sku=self.sku, location=place).first()
            on_hand, committed = (level.on_hand, level.committed) if level else (0, 0)
            assert (on_hand, committed) == (self.on_hand[i], self.committed[i])
            assert on_hand - committed >= 0  # hub-originated operations never oversell

    @invariant()
    def ledger_equals_movements(self):
        assert ledger_mismatches() == []


def test_random_operation_sequences_agree_with_the_model():
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
