import pytest
from django.core.cache import cache

from foundation.authentication import token_failure_key


@pytest.fixture(autouse=True)
def no_token_failures_left_behind():
    """Failed-token counts live in the shared cache (Redis under `make test`) and would
    follow the test client's address into later tests."""
    yield
    for address in ("127.0.0.1", "203.0.113.7", "203.0.113.8"):
        cache.delete(token_failure_key(address))
