import os
from collections.abc import Iterator

import pytest
from django.test import Client

from tests.dashboard.browser_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def merchant(user) -> Client:
    """A test client logged in as a merchant."""
    client = Client()
    client.force_login(user)
    return client


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

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
