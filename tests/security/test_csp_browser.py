"""The pages under the Content-Security-Policy in a real browser: nothing is refused.

Debian's Chromium through Playwright (as tests/dashboard/test_browser.py does). Chromium
reports every blocked script, style or image on the console as "Refused to ...".
"""

import os
from collections.abc import Iterator

import pytest
from django.db import connections

from ledger.services import location_default, sku_create
from tests.dashboard.browser_support import CHROMIUM, PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
    pytest.mark.usefixtures("async_unsafe_orm"),
]


@pytest.fixture
def page(browser) -> Iterator:
    yield browser.new_page()


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
