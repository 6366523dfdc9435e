"""The least a durable Shopify webhook endpoint can do: a hand-written WSGI app, no Django.

    gunicorn bench.durable_app:app   (BENCH_DURABLE_DSN, BENCH_DURABLE_SECRET in the env)

`POST /` checks X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body under the
secret), then `INSERT ... ON CONFLICT (dedupe_key) DO NOTHING` of the body into
`bench_durable_inbox` on one psycopg 3 connection kept per worker process, commits, and
only then answers 200 {"status": "accepted" | "duplicate", "event_id": <id>}. Anything
else: 401 for a bad signature, 400 without an event id, 404/405 elsewhere. `GET /` is
the health check. bench.ingest measures the hub's intake against it: what the hub costs
beyond verifying and durably storing a delivery.

The dedupe key is the hub's (`<topic>:<X-Shopify-Event-Id>`, else
`webhook-id:<X-Shopify-Webhook-Id>`). Imports nothing from the hub.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_durable_inbox (
    id bigserial PRIMARY KEY,
    dedupe_key varchar(255) NOT NULL UNIQUE,
    topic varchar(100) NOT NULL,
    body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)"""
INSERT = """
INSERT INTO bench_durable_inbox (dedupe_key, topic, body) VALUES (%s, %s, %s)
ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"""
MAX_BODY = 1024 * 1024

_secret = os.environ.get("BENCH_DURABLE_SECRET", "").encode()
_conn = None  # opened in the worker process, on its first request (never before the fork)


def _connection():
    global _conn
    if _conn is None or _conn.closed:
        import psycopg

        _conn = psycopg.connect(os.environ["BENCH_DURABLE_DSN"], autocommit=False)
    return _conn


def _answer(start_response, status: str, payload: dict) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if path != "/":
        return _answer(start_response, "404 Not Found", {"error": "not_found"})
    if method == "GET":
        return _answer(start_response, "200 OK", {"status": "ok"})
    if method != "POST":
        return _answer(start_response, "405 Method Not Allowed", {"error": "method"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY:
        return _answer(start_response, "413 Payload Too Large", {"error": "too_large"})
    body = environ["wsgi.input"].read(length)
    try:
        signature = base64.b64decode(environ.get("HTTP_X_SHOPIFY_HMAC_SHA256", ""), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    expected = hmac.new(_secret, body, hashlib.sha256).digest()
    if not _secret or not hmac.compare_digest(expected, signature):
        return _answer(start_response, "401 Unauthorized", {"error": "invalid_signature"})
    topic = environ.get("HTTP_X_SHOPIFY_TOPIC", "")
    if event_id := environ.get("HTTP_X_SHOPIFY_EVENT_ID"):
        key = f"{topic}:{event_id}"
    elif webhook_id := environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID"):
        key = f"webhook-id:{webhook_id}"
    else:
        return _answer(start_response, "400 Bad Request", {"error": "malformed"})
    conn = _connection()
    try:
        row = conn.execute(INSERT, (key[:255], topic[:100], body.decode())).fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    if row is None:
        return _answer(start_response, "200 OK", {"status": "duplicate"})
    return _answer(start_response, "200 OK", {"status": "accepted", "event_id": row[0]})
