"""The pages under the Content-Security-Policy in a real browser: nothing is refused.

Debian's Chromium through Playwright (as tests/dashboard/test_browser.py does). Chromium
reports every blocked script, style or image on the console as "Refused to ...".
"""

import os
from collections.abc import Iterator

import pytest
from django.db import connections

from ledger.services import location_default, sku_create

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"  # tests.factories.UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture(scope="module", autouse=True)
def async_unsafe_orm():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_no_page_trips_the_csp(live_server, transactional_db, user, page, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setattr("foundation.queueing.enqueue", lambda *args, **kwargs: None)
    # Transactional tests run last, right after tests/faults restarts PostgreSQL: start
    # from a connection of our own.
    connections.close_all()
    location_default()
    sku_create(code="TEE-RED-M", title="Tee, red, M")
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    for path in ("/", "/skus/TEE-RED-M/", "/channels/", "/incidents/", "/skus/new/", "/admin/"):
        page.goto(f"{live_server.url}{path}", wait_until="networkidle")

    page.goto(f"{live_server.url}/api/docs/", wait_until="networkidle")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Inventory Hub API")

    assert refused == []
