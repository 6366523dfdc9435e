import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The dashboard is tested over plain HTTP (the test client, a live server on
    loopback); production's HTTPS redirect and secure-only cookies would get in the way."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def merchant(user) -> Client:
    """A test client logged in as a merchant."""
    client = Client()
    client.force_login(user)
    return client
