import pytest
from django.test import Client
from django.test.utils import override_settings


@pytest.fixture(scope="session", autouse=True)
def plain_http():
    """The dashboard is tested over plain HTTP (the test client, a live server on
    loopback); production's HTTPS redirect and secure-only cookies would get in the way.

    Session-scoped so that it is in place before pytest-django's session-scoped live
    server loads its middleware (SecurityMiddleware reads the redirect setting once)."""
    with override_settings(
        SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False
    ):
        yield


@pytest.fixture
def merchant(user) -> Client:
    """A test client logged in as a merchant."""
    client = Client()
    client.force_login(user)
    return client
