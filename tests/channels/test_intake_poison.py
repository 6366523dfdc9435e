"""No input stops the intake: a delivery that cannot be applied fails on its own row
(retried with backoff, then parked) while every other delivery of its batch is applied.

The poison is a Shopify order whose line SKU holds a NUL: JSON carries it escaped, so the
body is stored; PostgreSQL refuses it the moment it reaches a query (a DataError, which is
why these tests need PostgreSQL). The door refuses such a delivery now, and so does the
parser, but rows stored before that (and any other poison a parser lets through) must not
stop the intake: the rows here are inserted directly, bypassing the view.
"""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from channels.intake.inbox import PROCESS_BACKOFF, inbox_process_waiting
from channels.models import Channel, InboundEvent, InboundStatus
from channels.services import channel_create
from channels.webhooks import _fields
from channels.webhooks.signing import sign_shopify
from ledger.models import Reservation, StockLevel
from ledger.services import sku_create, stock_receive
from tests.channels.test_intake import SECRET, SHOPIFY_SECRET, order, post_standard

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

POISON_SKU = "MUG\x00; DROP"


def shopify_order(order_id: int, lines: list[tuple[str, int]]) -> bytes:
    return json.dumps(
        {
            "id": order_id,
            "created_at": "2026-11-23T10:00:00Z",
            "line_items": [
                {"id": index + 1, "sku": sku, "quantity": quantity, "variant_id": 7}
                for index, (sku, quantity) in enumerate(lines)
            ],
        }
    ).encode()


def post_shopify(client, order_id: int, lines: list[tuple[str, int]]):
    body = shopify_order(order_id, lines)
    headers = {
        **sign_shopify(body, SHOPIFY_SECRET),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": f"evt-{order_id}",
    }
    response = client.post(
        "/webhooks/shop/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.json()


def store_poison(order_id: int) -> InboundEvent:
    """What the door stored before it refused NULs: the JSON escape `\\u0000` is plain
    text, so the body fits in the inbox."""
    body = shopify_order(order_id, [(POISON_SKU, 1), ("MUG", 1)]).decode()
    assert "\x00" not in body and "\\u0000" in body
    return InboundEvent.objects.create(
        channel=Channel.objects.get(slug="shop"),
        dedupe_key=f"evt-{order_id}",
        topic="orders/create",
        body=body,
    )


@pytest.fixture
def two_channels():
    channel_create(slug="web", kind="sandbox", name="Web", webhook_secret=SECRET)
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret=SHOPIFY_SECRET)
    skus = {code: sku_create(code=code) for code in ("TEE", "MUG")}
    for sku in skus.values():
        stock_receive(sku=sku, quantity=50)
    return skus


@pytest.fixture
def lenient_parser(monkeypatch):
    """The parser refuses control characters now; lifted here so that the poison reaches
    the batch's shared SKU lookup, as it did when the intake stopped."""
    monkeypatch.setattr(_fields, "clean", lambda value, where: value)


def post_good_orders(client, prefix: str, first_shop_id: int) -> None:
    post_standard(client, "web", order("created", f"{prefix}-1", [("TEE", 1)]), msg_id=f"{prefix}1")
    post_shopify(client, first_shop_id, [("MUG", 2), ("TEE", 1)])


def committed(code: str) -> int:
    return StockLevel.objects.get(sku__code=code).committed


def test_a_poison_row_fails_alone_and_every_good_order_around_it_is_applied(
    client, two_channels, lenient_parser
):
    post_good_orders(client, "W-A", 1001)
    poison = store_poison(666)  # in the middle, from the Shopify channel
    post_good_orders(client, "W-B", 1002)

    assert inbox_process_waiting(batch_size=10) == 5  # one batch, then one at a time

    poison.refresh_from_db()
    assert (poison.status, poison.attempts) == (InboundStatus.FAILED, 1)
    assert poison.error.startswith("DataError") and "NUL" in poison.error, poison.error
    assert poison.next_attempt_at > timezone.now()
    good = InboundEvent.objects.exclude(pk=poison.pk)
    assert set(good.values_list("status", flat=True)) == {InboundStatus.PROCESSED}
    # One reservation per good order line, none from the poison (all or nothing per row).
    assert Reservation.objects.count() == 2 + 2 * 2
    assert not Reservation.objects.filter(order_id="666").exists()
    assert (committed("TEE"), committed("MUG")) == (4, 4)

    # Later deliveries are applied while the poison is retried with backoff, then parked.
    for attempt in range(2, len(PROCESS_BACKOFF) + 2):
        InboundEvent.objects.filter(pk=poison.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        post_standard(
            client, "web", order("created", f"L-{attempt}", [("TEE", 1)]), msg_id=f"l{attempt}"
        )
        assert inbox_process_waiting(batch_size=10) == 2
        poison.refresh_from_db()
        assert poison.attempts == attempt
    assert poison.status == InboundStatus.DEAD and "NUL" in poison.error
    assert set(good.values_list("status", flat=True)) == {InboundStatus.PROCESSED}
    assert committed("TEE") == 4 + len(PROCESS_BACKOFF)
    call_command("ledger_verify")  # raises CommandError on any mismatch


def test_with_the_parser_refusing_it_the_stored_poison_is_parked_at_once(client, two_channels):
    post_good_orders(client, "W-A", 1001)
    poison = store_poison(666)
    post_good_orders(client, "W-B", 1002)

    assert inbox_process_waiting(batch_size=10) == 5

    poison.refresh_from_db()
    assert poison.status == InboundStatus.DEAD  # retrying cannot make it readable
    assert "control character" in poison.error
    assert set(InboundEvent.objects.exclude(pk=poison.pk).values_list("status", flat=True)) == {
        InboundStatus.PROCESSED
    }
    assert (committed("TEE"), committed("MUG")) == (4, 4)
    call_command("ledger_verify")


def test_a_shared_step_failing_for_one_delivery_alone_is_recorded_on_its_row(
    client, two_channels, monkeypatch
):
    """Not only the SKU lookup: a batch whose sales record fails falls back the same way,
    and the one delivery it keeps failing for is recorded, not raised."""
    from channels.intake import inbox

    record_sales = inbox._BatchContext.record_sales

    def failing_for_order_1002(self):
        if any(sku_id == two_channels["MUG"].pk for (_, sku_id) in self.sales) and (
            Reservation.objects.filter(order_id="1002").exists()
        ):
            raise RuntimeError("the listing update failed")
        record_sales(self)

    monkeypatch.setattr(inbox._BatchContext, "record_sales", failing_for_order_1002)
    post_good_orders(client, "W-A", 1001)
    post_good_orders(client, "W-B", 1002)

    assert inbox_process_waiting(batch_size=10) == 4

    failed = InboundEvent.objects.get(status=InboundStatus.FAILED)
    assert json.loads(failed.body)["id"] == 1002
    assert failed.error == "RuntimeError: the listing update failed"
    assert not Reservation.objects.filter(order_id="1002").exists()  # rolled back whole
    assert InboundEvent.objects.filter(status=InboundStatus.PROCESSED).count() == 3
    call_command("ledger_verify")


def test_an_error_quoting_the_poison_is_recorded_all_the_same(client, two_channels, monkeypatch):
    """The failure's message may carry what the database cannot store (a NUL, a lone
    surrogate): the row still records it, escaped."""
    from channels.intake import inbox

    apply = inbox.order_event_apply

    def quoting(event, order, context):
        if order.order_id == "1002":
            raise ValueError("no such SKU: \x00\ud800")
        return apply(event, order, context)

    monkeypatch.setattr(inbox, "order_event_apply", quoting)
    post_good_orders(client, "W-A", 1001)
    post_good_orders(client, "W-B", 1002)

    assert inbox_process_waiting(batch_size=10) == 4

    failed = InboundEvent.objects.get(status=InboundStatus.FAILED)
    assert failed.error == "ValueError: no such SKU: \\x00\\ud800"
    assert InboundEvent.objects.filter(status=InboundStatus.PROCESSED).count() == 3
    call_command("ledger_verify")
