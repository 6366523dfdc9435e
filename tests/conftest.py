"""Shared fixtures. The suite runs on the PostgreSQL and Redis that `make test` starts
(scripts/services.py sets DATABASE_URL and REDIS_URL); tests that need PostgreSQL's
row locks are marked and skipped with a reason on SQLite."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run through `make test`)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def plain_http(settings):
    """Production defaults redirect HTTP to HTTPS; the test client speaks plain HTTP."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def fresh_flow_control():
    """Rate-limit buckets and circuit breakers are shared state (Redis or the process);
    every test starts with full buckets and closed circuits."""
    yield
    from django.conf import settings

    from channels import breaker, ratelimit

    breaker._memory.calls.clear()
    breaker._memory.opened.clear()
    ratelimit._local.clear()
    if settings.REDIS_URL:
        client = ratelimit._redis()[0]
        keys = [*client.scan_iter("breaker:*"), *client.scan_iter("ratelimit:*")]
        if keys:
            client.delete(*keys)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
