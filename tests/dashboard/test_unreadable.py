"""The unreadable deliveries beside the orders: listed with the reason and the body,
filtered by channel, marked handled or run again by a person who may act on the DLQ;
counted in /metrics and named in the digest."""

import json
import time

import pytest
from django.test import Client

from channels.models import InboundEvent, InboundStatus
from channels.reconcile.digest import digest_send
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret, sign_standard
from tests.factories import role_user

pytestmark = pytest.mark.django_db

SECRET = make_standard_secret()


def deliver(slug, payload, msg_id):
    body = json.dumps(payload).encode()
    headers = sign_standard(body, SECRET, msg_id=msg_id, timestamp=int(time.time()))
    answer = Client().post(
        f"/webhooks/{slug}/", body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture
def parked():
    for slug in ("web", "shop"):
        channel_create(slug=slug, kind="sandbox", name=slug.title(), webhook_secret=SECRET)
    deliver("web", {"type": "order.exploded", "data": {"order_id": "W-BOOM"}}, "m1")
    deliver("shop", {"type": "order.created", "timestamp": "x", "data": {}}, "m2")
    return {e.channel.slug: e for e in InboundEvent.objects.select_related("channel")}


def test_the_orders_page_points_at_them(client, parked):
    client.force_login(role_user("Viewer"))

    page = client.get("/orders/").content.decode()

    assert "Unreadable deliveries: 2" in page


def test_they_are_listed_with_reason_and_body_and_filtered_by_channel(client, parked):
    client.force_login(role_user("Viewer"))

    everything = client.get("/orders/unreadable/").content.decode()
    web_only = client.get("/orders/unreadable/?channel=web").content.decode()

    assert "unknown topic &#x27;order.exploded&#x27;" in everything
    assert "W-BOOM" in everything  # the body
    assert "timestamp" in everything
    assert "W-BOOM" in web_only and "Shop" not in web_only.split("<tbody>")[1]
    assert "Mark handled" not in everything  # a Viewer only reads


def test_an_approver_marks_one_handled(client, parked):
    client.force_login(role_user("Approver", username="ann"))
    event = parked["web"]

    answer = client.post(
        f"/orders/unreadable/{event.pk}/", {"action": "handled", "channel": "web"}, follow=True
    )

    event.refresh_from_db()
    assert event.status == InboundStatus.HANDLED
    assert "marked handled" in answer.content.decode()
    assert "W-BOOM" not in client.get("/orders/unreadable/").content.decode()
    assert "W-BOOM" in client.get("/orders/unreadable/?status=handled").content.decode()
    again = client.post(f"/orders/unreadable/{event.pk}/", {"action": "handled"}, follow=True)
    assert "not an unreadable delivery waiting" in again.content.decode()


def test_run_again_says_why_it_still_cannot_be_read(client, parked):
    client.force_login(role_user("Approver"))
    event = parked["shop"]

    answer = client.post(f"/orders/unreadable/{event.pk}/", {"action": "retry"}, follow=True)

    assert "still cannot be read" in answer.content.decode()
    event.refresh_from_db()
    assert event.status == InboundStatus.UNREADABLE


@pytest.mark.parametrize("role", ["Viewer", "Merchant", None])
def test_who_may_not_act_is_refused_and_nothing_changes(client, parked, role):
    client.force_login(role_user(role))
    event = parked["web"]

    answer = client.post(f"/orders/unreadable/{event.pk}/", {"action": "handled"})

    assert answer.status_code == 403
    event.refresh_from_db()
    assert event.status == InboundStatus.UNREADABLE


def test_an_unknown_action_is_refused_in_words(client, parked):
    client.force_login(role_user("Approver"))
    event = parked["web"]

    answer = client.post(f"/orders/unreadable/{event.pk}/", {"action": "burn"}, follow=True)

    assert "Choose handled or run again." in answer.content.decode()
    event.refresh_from_db()
    assert event.status == InboundStatus.UNREADABLE


def test_metrics_count_them_by_kind_and_the_digest_names_them(client, parked, mailoutbox):
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'inventory_hub_unreadable_deliveries_total{kind="sandbox"}' in metrics
    assert "inventory_hub_unreadable_waiting 2.0" in metrics
    digest = digest_send()
    assert "2 delivery(ies) the hub could not read" in digest.body
    assert not digest.all_clear
