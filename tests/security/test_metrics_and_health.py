"""/metrics is for operators and cannot be inflated; /healthz tells strangers only ok or not."""

import json
import secrets

import pytest
from django.test import override_settings

from channels.services import channel_create
from foundation.metrics import UNKNOWN_CHANNEL
from inventory_hub import health

TOKEN = "metrics-token-for-tests"
STRANGER = "203.0.113.7"
CONTRACT_KEYS = {
    "database",
    "broker",
    "last_reconcile_at",
    "last_digest_at",
    "outbox_backlog",
    "dlq_size",
    "status",
}


@pytest.fixture
def metrics_token():
    with override_settings(METRICS_TOKEN=TOKEN):
        yield TOKEN


def test_metrics_refuse_a_stranger_without_the_token(client, db, metrics_token):
    assert client.get("/metrics", REMOTE_ADDR=STRANGER).status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 403
    assert b"inventory_hub_" not in wrong.content


def test_metrics_answer_the_token_from_anywhere(client, db, metrics_token):
    response = client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"inventory_hub_outbox_backlog" in response.content


def test_metrics_answer_loopback_and_configured_networks(client, db):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    with override_settings(METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_no_token_configured_means_no_token_works(client, db):
    with override_settings(METRICS_TOKEN=""):
        response = client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_a_request_relayed_by_a_proxy_on_loopback_is_not_loopback(client, db):
    relayed = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=STRANGER)
    assert relayed.status_code == 403


def test_with_a_trusted_proxy_the_forwarded_address_decides(client, db):
    with override_settings(TRUSTED_PROXY_COUNT=1, METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        inside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.9")
        forged = client.get(
            "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.0.0.9, {STRANGER}"
        )
    assert inside.status_code == 200
    assert forged.status_code == 403


def test_invented_webhook_slugs_share_one_label(client, db):
    channel_create(slug="web", kind="sandbox", name="Web", webhook_secret="whsec_dGVzdA==")
    client.post(f"/webhooks/{secrets.token_hex(8)}/", b"{}", content_type="application/json")
    before = len(client.get("/metrics").content)
    slugs = [secrets.token_hex(8) for _ in range(200)]
    for slug in slugs:
        response = client.post(f"/webhooks/{slug}/", b"{}", content_type="application/json")
        assert response.status_code == 404
    client.post("/webhooks/web/", b"{}", content_type="application/json")  # 401, unsigned

    metrics = client.get("/metrics").content.decode()
    assert len(metrics) - before < 1024
    assert not any(slug in metrics for slug in slugs)
    assert f'channel="{UNKNOWN_CHANNEL}",outcome="404"' in metrics
    assert 'channel="web",outcome="401"' in metrics


def test_a_slug_becomes_a_label_only_once_it_is_a_channel(client, db):
    client.post("/webhooks/not-here/", b"{}", content_type="application/json")
    assert 'channel="not-here"' not in client.get("/metrics").content.decode()
    channel_create(slug="not-here", kind="sandbox", name="Now here", webhook_secret="whsec_eA==")
    client.post("/webhooks/not-here/", b"{}", content_type="application/json")  # 401, unsigned
    assert 'channel="not-here",outcome="401"' in client.get("/metrics").content.decode()


def test_anonymous_healthz_keeps_the_contract_and_says_nothing_more(client, db):
    response = client.get("/healthz")
    body = response.json()
    assert set(body) >= CONTRACT_KEYS
    assert body["status"] in ("ok", "degraded")
    assert body["database"] == {"ok": True}
    assert set(body["broker"]) == {"ok"}


def test_anonymous_healthz_hides_where_a_failure_happened(client, db, monkeypatch):
    error = "Error 111 connecting to redis.internal:6379. Connection refused."
    monkeypatch.setattr(health, "_check_broker", lambda: {"ok": False, "error": error})
    response = client.get("/healthz")
    text = response.content.decode()
    assert response.json()["status"] == "degraded"
    assert response.json()["broker"] == {"ok": False}
    for leak in ("redis.internal", "6379", "Connection refused", "error"):
        assert leak not in text


def test_operators_see_the_details(client, db, monkeypatch, metrics_token, user):
    error = "Error 111 connecting to redis.internal:6379. Connection refused."
    monkeypatch.setattr(health, "_check_broker", lambda: {"ok": False, "error": error})
    with_token = client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert with_token["broker"]["error"] == error
    assert "latency_ms" in with_token["database"]

    client.force_login(user)  # staff
    as_staff = json.loads(client.get("/healthz").content)
    assert as_staff["broker"]["error"] == error
