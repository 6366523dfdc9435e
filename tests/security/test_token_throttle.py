"""Guessing API tokens from one address meets a 429; real tokens are not slowed."""

import secrets

from django.conf import settings
from rest_framework.test import APIClient


def test_the_counter_lives_in_a_cache_every_worker_shares():
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.REDIS_URL:
        assert backend == "django.core.cache.backends.redis.RedisCache"
    else:
        assert backend == "django.core.cache.backends.filebased.FileBasedCache"


def test_thirty_random_tokens_meet_a_429(db):
    client = APIClient()
    statuses = []
    for _ in range(30):
        client.credentials(HTTP_AUTHORIZATION=f"Token {secrets.token_hex(20)}")
        statuses.append(client.get("/api/v1/skus/").status_code)
    assert statuses[0] == 401
    assert 429 in statuses
    assert statuses.index(429) == settings.AUTH_TOKEN_FAILURE_LIMIT
    throttled = client.get("/api/v1/skus/")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["error"]


def test_a_valid_token_still_gets_in_from_a_throttled_address(api):
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-real-one")
    for _ in range(settings.AUTH_TOKEN_FAILURE_LIMIT + 1):
        guesser.get("/api/v1/skus/")
    assert guesser.get("/api/v1/skus/").status_code == 429
    assert api.get("/api/v1/skus/").status_code == 200


def test_failures_are_counted_per_address(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-one")
    for _ in range(settings.AUTH_TOKEN_FAILURE_LIMIT + 1):
        client.get("/api/v1/skus/", REMOTE_ADDR="203.0.113.7")
    assert client.get("/api/v1/skus/", REMOTE_ADDR="203.0.113.7").status_code == 429
    assert client.get("/api/v1/skus/", REMOTE_ADDR="203.0.113.8").status_code == 401


def test_a_forged_forwarded_for_does_not_reset_the_count(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-one")
    for n in range(settings.AUTH_TOKEN_FAILURE_LIMIT + 1):
        client.get("/api/v1/skus/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert client.get("/api/v1/skus/", HTTP_X_FORWARDED_FOR="198.51.100.250").status_code == 429
