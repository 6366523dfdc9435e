"""The intake keeps each channel's decrypted secrets in the process and trusts them only
as far as the inbox INSERT confirms: a rotated secret, a removed previous secret, a
disabled or a deleted channel apply to the very next delivery."""

import pytest

from channels.models import Channel, InboundEvent
from channels.services import channel_previous_secret_forget, channel_update
from channels.webhooks.signing import make_standard_secret
from ledger.services import sku_create
from tests.channels.test_intake import SECRET, order, post_standard, standard_channel

pytestmark = pytest.mark.django_db


def deliver(client, n: int, secret: str):
    payload = order("created", f"W-{n}", [("A", 1)])
    return post_standard(client, "web", payload, msg_id=f"m{n}", secret=secret)


@pytest.fixture
def web():
    sku_create(code="A")
    return standard_channel()


def test_a_rotated_secret_applies_to_the_next_delivery(client, web):
    assert deliver(client, 1, SECRET).status_code == 200  # the process now holds SECRET
    new = make_standard_secret()
    channel_update(channel=web, webhook_secret=new)

    assert deliver(client, 2, new).status_code == 200  # not the cached secret: read again
    assert deliver(client, 3, SECRET).status_code == 200  # kept as the previous secret

    channel_previous_secret_forget(channel=Channel.objects.get(slug="web"))
    refused = deliver(client, 4, SECRET)  # the cache still holds it: the INSERT refuses
    assert refused.status_code == 401
    assert InboundEvent.objects.count() == 3


def test_a_disabled_channel_refuses_the_next_delivery_and_stores_nothing(client, web):
    assert deliver(client, 1, SECRET).status_code == 200
    channel_update(channel=web, enabled=False)
    response = deliver(client, 2, SECRET)
    assert response.status_code == 404
    assert response.json()["error"] == "channel_disabled"
    assert InboundEvent.objects.count() == 1


def test_a_deleted_channel_is_unknown_to_the_next_delivery(client, web):
    assert deliver(client, 1, SECRET).status_code == 200
    Channel.objects.filter(pk=web.pk).delete()
    response = deliver(client, 2, SECRET)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_channel"
    assert InboundEvent.objects.count() == 0


def test_a_redelivery_is_a_duplicate_from_the_cache_too(client, web):
    assert deliver(client, 1, SECRET).json()["status"] == "accepted"
    assert deliver(client, 1, SECRET).json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_and_the_delivery_stored(client, web):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run through `make test`)")
    assert deliver(client, 1, SECRET).status_code == 200
    backend = connection.connection.info.backend_pid
    # What a database restart does to a kept connection: the server side is gone.
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    other.close()

    response = deliver(client, 2, SECRET)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert InboundEvent.objects.count() == 2
