"""No request makes the webhook view answer 500, and every refusal is counted."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from channels.models import InboundEvent
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret, sign_shopify, sign_standard

SECRET = make_standard_secret()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
standard_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["order.created", "order.cancelled", "inventory.level", "x"])
        | st.text(max_size=15)
    },
    optional={"timestamp": json_values, "data": json_values},
)


@pytest.fixture
def channels(db):
    channel_create(slug="web", kind="sandbox", name="Web", webhook_secret=SECRET)
    channel_create(slug="shop", kind="shopify", name="Shop", webhook_secret="shpss")
    channel_create(slug="woo", kind="woocommerce", name="Woo", webhook_secret="woo")
    channel_create(slug="bay", kind="ebay", name="Bay", webhook_secret="")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300), slug=st.sampled_from(["web", "shop", "woo", "bay"]))
def test_arbitrary_bytes_never_cause_a_500(client, channels, body, slug):
    response = client.post(f"/webhooks/{slug}/", body, content_type="application/json")
    assert response.status_code in (200, 400, 401, 404, 413, 503)
    assert response.json()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=standard_like)
def test_correctly_signed_junk_is_refused_cleanly_or_stored(client, channels, payload):
    body = json.dumps(payload).encode()
    headers = sign_standard(
        body, SECRET, msg_id=f"m{time.monotonic_ns()}", timestamp=int(time.time())
    )
    response = client.post("/webhooks/web/", body, content_type="application/json", headers=headers)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["error"] == "malformed"


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=json_values,
    topic=st.sampled_from(["orders/create", "refunds/create", "inventory_levels/update"]),
)
def test_signed_shopify_junk_never_causes_a_500(client, channels, payload, topic):
    body = json.dumps(payload).encode()
    headers = {
        **sign_shopify(body, "shpss"),
        "X-Shopify-Topic": topic,
        "X-Shopify-Event-Id": str(time.monotonic_ns()),
    }
    response = client.post(
        "/webhooks/shop/", body, content_type="application/json", headers=headers
    )
    assert response.status_code in (200, 400)


def test_refusals_are_counted_in_metrics(client, channels):
    def count(outcome):
        value = REGISTRY.get_sample_value(
            "inventory_hub_webhooks_total", {"channel": "web", "outcome": outcome}
        )
        return value or 0

    before = count("401")
    client.post("/webhooks/web/", b"{}", content_type="application/json")
    assert count("401") == before + 1
    assert not InboundEvent.objects.exists()
    metrics = client.get("/metrics").content.decode()
    assert "inventory_hub_webhooks_total" in metrics
    assert "inventory_hub_outbox_backlog" in metrics
