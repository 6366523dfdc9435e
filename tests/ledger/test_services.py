"""Given/when/then tests of the stock services against the real database."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ledger.errors import (
    DuplicateReservation,
    IdempotencyConflict,
    InsufficientStock,
    InvalidOperation,
    InvalidState,
)
from ledger.models import Movement, OversellIncident, StockLevel, StockOperation
from ledger.selectors import ledger_mismatches
from ledger.services import (
    OrderLineRequest,
    Origin,
    location_default,
    reservation_release,
    reservation_ship,
    sku_create,
    sku_get,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_reserve,
    stock_reserve_order,
    stock_return,
    stock_transfer,
)
from tests.factories import LocationFactory, SkuFactory

pytestmark = pytest.mark.django_db


def level(sku, location=None) -> StockLevel:
    return StockLevel.objects.get(sku=sku, location=location or location_default())


def test_receive_adds_on_hand_and_writes_one_movement():
    sku = SkuFactory()
    operation = stock_receive(sku=sku, quantity=7)
    assert (level(sku).on_hand, level(sku).committed) == (7, 0)
    movement = operation.movements.get()
    assert (movement.kind, movement.on_hand_delta, movement.on_hand_after) == ("receipt", 7, 7)
    assert ledger_mismatches() == []


def test_sku_codes_match_trimmed_and_case_folded():
    sku = sku_create(code="  Tee-Red-M ", title="Tee")
    assert sku.code == "Tee-Red-M"
    assert sku_get("tee-red-m") == sku
    with pytest.raises(InvalidOperation):
        sku_create(code="TEE-RED-M")


def test_adjust_down_cannot_take_committed_units():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=5)
    stock_reserve(sku=sku, quantity=4, order_id="A")
    with pytest.raises(InsufficientStock) as refused:
        stock_adjust(sku=sku, quantity=-2)
    assert refused.value.detail["available"] == 1
    stock_adjust(sku=sku, quantity=-1, origin=Origin(reason="damaged"))
    assert (level(sku).on_hand, level(sku).committed) == (4, 4)


def test_count_becomes_a_delta_computed_under_the_lock():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=10)
    operation = stock_count(sku=sku, counted=8)
    assert operation.result["delta"] == -2
    assert level(sku).on_hand == 8


def test_a_count_taken_in_the_past_is_brought_forward_not_backdated():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=10)
    counted_at = timezone.now()
    stock_receive(sku=sku, quantity=5)  # arrived after the count sheet was filled in
    stock_count(sku=sku, counted=9, counted_at=counted_at)
    assert level(sku).on_hand == 14
    assert list(Movement.objects.filter(sku=sku).values_list("kind", flat=True)) == [
        "receipt",
        "receipt",
        "count",
    ]


def test_count_below_committed_is_refused():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=10)
    stock_reserve(sku=sku, quantity=6, order_id="A")
    with pytest.raises(InsufficientStock):
        stock_count(sku=sku, counted=5)
    assert level(sku).on_hand == 10


def test_transfer_moves_units_between_locations_in_one_operation():
    sku, store = SkuFactory(), LocationFactory()
    stock_receive(sku=sku, quantity=10)
    operation = stock_transfer(
        sku=sku, quantity=4, from_location=location_default(), to_location=store
    )
    assert operation.movements.count() == 2
    assert level(sku).on_hand == 6
    assert level(sku, store).on_hand == 4


def test_transfer_to_the_same_location_is_refused_and_writes_nothing():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=10)
    before = Movement.objects.count()
    with pytest.raises(InvalidOperation):
        stock_transfer(
            sku=sku, quantity=1, from_location=location_default(), to_location=location_default()
        )
    assert Movement.objects.count() == before


def test_reservation_splits_across_locations_in_priority_order():
    sku = SkuFactory()
    second = LocationFactory(priority=50)
    stock_receive(sku=sku, quantity=3)
    stock_receive(sku=sku, quantity=5, location=second)
    reservation = stock_reserve(sku=sku, quantity=6, order_id="A")
    lines = {line.location_id: line.quantity for line in reservation.lines.all()}
    assert lines == {location_default().pk: 3, second.pk: 3}
    assert (level(sku).committed, level(sku, second).committed) == (3, 3)


def test_reservation_beyond_available_is_refused_and_writes_nothing():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=2)
    before = (Movement.objects.count(), StockOperation.objects.count())
    with pytest.raises(InsufficientStock) as refused:
        stock_reserve(sku=sku, quantity=3, order_id="A")
    assert refused.value.detail == {
        "sku": sku.code,
        "requested": 3,
        "available": 2,
        "order_id": "A",
    }
    assert (Movement.objects.count(), StockOperation.objects.count()) == before
    assert level(sku).committed == 0


def test_multi_line_order_is_all_or_nothing():
    first, second = SkuFactory(), SkuFactory()
    stock_receive(sku=first, quantity=5)
    stock_receive(sku=second, quantity=1)
    with pytest.raises(InsufficientStock):
        stock_reserve_order(
            order_id="A",
            lines=[
                OrderLineRequest(sku=first, quantity=2),
                OrderLineRequest(sku=second, quantity=2),
            ],
        )
    assert level(first).committed == 0


def test_release_and_ship_close_a_reservation_once():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=5)
    shipped = reservation_ship(reservation=stock_reserve(sku=sku, quantity=2, order_id="A"))
    assert shipped.status == "shipped"
    assert (level(sku).on_hand, level(sku).committed) == (3, 0)
    released = reservation_release(reservation=stock_reserve(sku=sku, quantity=1, order_id="B"))
    assert released.status == "released"
    assert (level(sku).on_hand, level(sku).committed) == (3, 0)
    with pytest.raises(InvalidState):
        reservation_release(reservation=released)
    with pytest.raises(InvalidState):
        reservation_ship(reservation=shipped)
    assert ledger_mismatches() == []


def test_the_same_order_line_cannot_be_reserved_twice():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=5)
    stock_reserve(sku=sku, quantity=1, order_id="A", channel_slug="web")
    with pytest.raises(DuplicateReservation):
        stock_reserve(sku=sku, quantity=1, order_id="A", channel_slug="web")
    assert level(sku).committed == 1


def test_idempotency_key_replays_the_first_result_and_refuses_a_different_payload():
    sku = SkuFactory()
    first = stock_receive(sku=sku, quantity=3, origin=Origin(idempotency_key="k1"))
    again = stock_receive(sku=sku, quantity=3, origin=Origin(idempotency_key="k1"))
    assert again.pk == first.pk and again.replayed
    assert level(sku).on_hand == 3
    with pytest.raises(IdempotencyConflict):
        stock_receive(sku=sku, quantity=4, origin=Origin(idempotency_key="k1"))
    assert level(sku).on_hand == 3


def test_channel_oversell_is_recorded_and_opens_an_incident():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    stock_reserve(sku=sku, quantity=3, order_id="X1", channel_slug="shop", allow_oversell=True)
    assert level(sku).available == -2
    incident = OversellIncident.objects.get(sku=sku)
    assert incident.shortfall == 2
    assert incident.orders == [{"channel": "shop", "order_id": "X1", "quantity": 2}]
    stock_reserve(sku=sku, quantity=1, order_id="X2", channel_slug="shop", allow_oversell=True)
    incident.refresh_from_db()
    assert incident.shortfall == 3 and len(incident.orders) == 2


def test_shipping_an_oversold_line_corrects_the_books_first():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    reservation = stock_reserve(
        sku=sku, quantity=2, order_id="X", channel_slug="shop", allow_oversell=True
    )
    reservation_ship(reservation=reservation)
    assert (level(sku).on_hand, level(sku).committed) == (0, 0)
    assert ledger_mismatches() == []


@pytest.mark.parametrize("quantity", [0, -1, 1_000_000_001, 2.5, "3", True])
def test_bad_quantities_are_refused(quantity):
    sku = SkuFactory()
    with pytest.raises(InvalidOperation):
        stock_receive(sku=sku, quantity=quantity)
    assert not Movement.objects.exists()


def test_return_adds_stock():
    sku = SkuFactory()
    stock_return(sku=sku, quantity=2)
    assert level(sku).on_hand == 2


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_movement SET on_hand_delta = 99", "DELETE FROM ledger_movement"]
)
def test_the_database_refuses_to_rewrite_movements(statement):
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert Movement.objects.get(sku=sku).on_hand_delta == 1


def test_orm_update_and_delete_are_refused_too():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        Movement.objects.filter(sku=sku).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        Movement.objects.filter(sku=sku).delete()
    assert Movement.objects.filter(sku=sku).count() == 1


def test_ledger_verify_reports_a_level_that_disagrees(capsys):
    from django.core.management import CommandError, call_command

    sku = SkuFactory()
    stock_receive(sku=sku, quantity=4)
    call_command("ledger_verify")
    StockLevel.objects.filter(sku=sku).update(on_hand=5)  # a bug or a hand edit
    with pytest.raises(CommandError, match="1 stock level"):
        call_command("ledger_verify")
    assert sku.code in capsys.readouterr().err


def test_recorded_at_is_timezone_aware():
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=1)
    assert Movement.objects.get(sku=sku).recorded_at.utcoffset() == timedelta(0)
