"""Shared fixtures. The suite runs on the PostgreSQL and Redis that `make test` starts
(scripts/services.py sets DATABASE_URL and REDIS_URL); tests that need PostgreSQL's
row locks are marked and skipped with a reason on SQLite."""

import importlib
import os
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.test.utils import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import role_user

# The tests' channels are the simulator and small servers on loopback. Set before any
# test starts a process (workers, the simulator, a live server's neighbours), so they
# inherit it; this process read its settings already, so `plain_http` sets it there too.
os.environ.setdefault("CHANNEL_ALLOW_PRIVATE_NETWORKS", "1")


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run through `make test`)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_dead_connection():
    """A test that restarts PostgreSQL or terminates a backend (tests/faults, the
    intake's reconnect test) leaves this process's kept connections dead: replace them
    before the next test uses one."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block and not conn.is_usable():
            conn.close()
    yield


@pytest.fixture(scope="session", autouse=True)
def plain_http():
    """Tests speak plain HTTP (the test client, live servers on loopback); production's
    HTTPS redirect and secure-only cookies would get in the way. Session-scoped so it is
    in place before a session-scoped live server loads its middleware. Channels may
    point at loopback (CHANNEL_ALLOW_PRIVATE_NETWORKS): a test of the refusal turns it
    off with override_settings."""
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        CHANNEL_ALLOW_PRIVATE_NETWORKS=True,
    ):
        yield


@pytest.fixture(autouse=True)
def fresh_flow_control():
    """Rate-limit buckets, circuit breakers, wake-up flags and leases are shared state
    (Redis or the process); every test starts with full buckets, closed circuits, no flag
    and no lease."""
    yield
    from django.conf import settings

    from channels.propagation import breaker, revisions
    from foundation import ratelimit

    breaker._memory.calls.clear()
    breaker._memory.opened.clear()
    revisions._memory.times.clear()
    ratelimit._local.clear()
    if settings.REDIS_URL:
        client = ratelimit.redis_client()
        patterns = ("breaker:*", "ratelimit:*", "revisions:*", "drain-*", "inbox-*", "test-wake:*")
        keys = [key for pattern in patterns for key in client.scan_iter(pattern)]
        if keys:
            client.delete(*keys)


@pytest.fixture
def user(db):
    """A person who may do everything the hub offers (the Admin role); the permission
    tests (tests/test_permissions.py) use each role and no role at all."""
    return role_user("Admin")


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


APPEND_ONLY = importlib.import_module(
    "ledger.migrations.0002_default_location_and_append_only_movements"
)


@pytest.fixture(autouse=True)
def flushable_ledger_on_sqlite(request):
    """A transactional test ends with a flush. PostgreSQL flushes with TRUNCATE, which the
    append-only trigger does not see; SQLite flushes with DELETE, which it refuses. On
    SQLite, empty the movements with the trigger lifted (just before the flush), then put
    the trigger back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if not transactional:
        return

    request.getfixturevalue("transactional_db")

    def lift_and_empty() -> None:
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            for statement in APPEND_ONLY.SQLITE_DOWN:
                cursor.execute(statement)
            cursor.execute("DELETE FROM ledger_movement")
            for statement in APPEND_ONLY.SQLITE_UP:
                cursor.execute(statement)

    # Registered after transactional_db's own teardown, so it runs before the flush.
    request.addfinalizer(lift_and_empty)


# --- browser tests (Debian's Chromium through Playwright) ---------------------------


@pytest.fixture(scope="module")
def async_unsafe_orm():
    """Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    test and by pytest-django's teardown are still synchronous and safe here. Set for this
    module only: the flag must not leak into other tests (check --deploy refuses it)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    from tests.dashboard.browser_support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, the test's ORM calls get connections of their
            # own context, which pytest-django never closes: left open, one of them kept
            # the test database from being dropped at the end of the session.
            connections.close_all()
