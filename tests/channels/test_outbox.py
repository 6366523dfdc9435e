"""The transactional outbox: written with every movement, coalesced, atomic."""

import pytest
from django.db import transaction

from channels.models import Listing, OutboxEntry, OutboxStatus
from channels.services import allocation_rule_set, channel_create, channel_update
from ledger.errors import InsufficientStock
from ledger.models import Movement
from ledger.services import (
    location_default,
    reservation_release,
    reservation_ship,
    sku_create,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_reserve,
    stock_return,
    stock_transfer,
)
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def make_channel(slug="shop", **allocation):
    return channel_create(
        slug=slug, kind="sandbox", name=slug.title(), allocation=allocation or None
    )


def pending(listing) -> OutboxEntry:
    return OutboxEntry.objects.get(listing=listing, status=OutboxStatus.PENDING)


def test_a_new_channel_lists_every_sku_and_queues_a_first_push():
    sku = sku_create(code="A")
    channel = make_channel()
    listing = Listing.objects.get(channel=channel, sku=sku)
    assert pending(listing).quantity == 0


def test_every_kind_of_movement_refreshes_the_published_quantity():
    channel = make_channel()
    sku = sku_create(code="A")
    store = LocationFactory()
    listing = Listing.objects.get(channel=channel, sku=sku)
    steps = [
        (lambda: stock_receive(sku=sku, quantity=10), 10),
        (lambda: stock_return(sku=sku, quantity=2), 12),
        (lambda: stock_adjust(sku=sku, quantity=-1), 11),
        (lambda: stock_count(sku=sku, counted=9), 9),
        (
            lambda: stock_transfer(
                sku=sku, quantity=4, from_location=location_default(), to_location=store
            ),
            5,
        ),
    ]
    for step, expected in steps:
        step()
        assert pending(listing).quantity == expected
    reservation = stock_reserve(sku=sku, quantity=2, order_id="A", location=location_default())
    assert pending(listing).quantity == 3
    reservation_release(reservation=reservation)
    assert pending(listing).quantity == 5
    reservation_ship(reservation=stock_reserve(sku=sku, quantity=1, order_id="B"))
    assert pending(listing).quantity == 4


def test_coalescing_leaves_one_pending_entry_with_the_final_target():
    first, second = make_channel("one"), make_channel("two")
    sku = sku_create(code="A")
    for _ in range(100):
        stock_receive(sku=sku, quantity=1)
    for channel in (first, second):
        entries = OutboxEntry.objects.filter(listing__channel=channel, status="pending")
        assert [entry.quantity for entry in entries] == [100]


def test_decreases_outrank_increases():
    channel = make_channel()
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=10)
    listing = Listing.objects.get(channel=channel, sku=sku)
    OutboxEntry.objects.filter(listing=listing).update(status=OutboxStatus.CONFIRMED)
    Listing.objects.filter(pk=listing.pk).update(confirmed=10)
    stock_reserve(sku=sku, quantity=3, order_id="A")
    assert pending(listing).priority == OutboxEntry.PRIORITY_DECREASE


def test_a_failed_operation_leaves_neither_movement_nor_outbox_row():
    make_channel()
    sku = sku_create(code="A")
    before = (Movement.objects.count(), list(OutboxEntry.objects.values_list("id", "quantity")))
    with pytest.raises(InsufficientStock):
        stock_reserve(sku=sku, quantity=1, order_id="A")
    with pytest.raises(RuntimeError), transaction.atomic():
        stock_receive(sku=sku, quantity=5)
        raise RuntimeError("the surrounding business operation failed")
    assert (
        Movement.objects.count(),
        list(OutboxEntry.objects.values_list("id", "quantity")),
    ) == before


def test_rules_and_buffers_shape_what_each_channel_may_sell():
    pool = make_channel("pool", mode="pool", buffer_units=2)
    share = make_channel("share", mode="share", share_percent="40")
    fixed = make_channel("fixed", mode="fixed", fixed_quantity=5, buffer_percent="20")
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=20)
    published = dict(Listing.objects.filter(sku=sku).values_list("channel__slug", "published"))
    assert published == {"pool": 18, "share": 8, "fixed": 4}
    allocation_rule_set(channel=pool, sku=sku, values={"mode": "fixed", "fixed_quantity": 3})
    assert Listing.objects.get(channel=pool, sku=sku).published == 3
    assert {share.pk, fixed.pk}


def test_a_disabled_channel_queues_nothing_until_re_enabled():
    channel = make_channel()
    sku = sku_create(code="A")
    channel_update(channel=channel, enabled=False)
    OutboxEntry.objects.all().delete()
    stock_receive(sku=sku, quantity=4)
    assert not OutboxEntry.objects.exists()
    channel_update(channel=channel, enabled=True)
    assert pending(Listing.objects.get(channel=channel, sku=sku)).quantity == 4


@pytest.mark.parametrize("channels", [1, 10])
def test_query_count_of_one_movement_does_not_grow_with_listings(
    channels, django_assert_num_queries
):
    for index in range(channels):
        make_channel(f"c{index}")
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=1)
    # default location, level lock, operation insert, level update, movement insert,
    # the close of an oversell incident it may cover (stock came in); then the outbox:
    # listings with what each channel may sell, rules, one executemany for the listings
    # and one upsert for the entries; plus the savepoint pair the test transaction adds.
    # The same 12 for 1 or 10 channels.
    with django_assert_num_queries(12):
        stock_receive(sku=sku, quantity=1)


def test_a_channel_publishes_what_its_fulfilment_locations_hold():
    store, annex = LocationFactory(), LocationFactory()
    everywhere = channel_create(slug="web", kind="sandbox", name="Web")  # the default one
    shop = channel_create(slug="shop", kind="sandbox", name="Shop", fulfilment_locations=[store])
    both = channel_create(
        slug="both", kind="sandbox", name="Both", fulfilment_locations=[annex, store]
    )
    sku = sku_create(code="A")
    stock_receive(sku=sku, quantity=10)  # the default location
    stock_receive(sku=sku, quantity=4, location=store)
    stock_receive(sku=sku, quantity=2, location=annex)
    stock_reserve(sku=sku, quantity=1, order_id="O-1", location=store)

    published = dict(Listing.objects.filter(sku=sku).values_list("channel__slug", "published"))
    assert published == {everywhere.slug: 10, shop.slug: 3, both.slug: 5}
