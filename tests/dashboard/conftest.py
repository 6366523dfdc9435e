import pytest
from django.test import Client


@pytest.fixture
def merchant(user) -> Client:
    """A test client logged in as a merchant."""
    client = Client()
    client.force_login(user)
    return client
