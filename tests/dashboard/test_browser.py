"""The dashboard in a real browser: Debian's Chromium driven by Playwright's sync API
against pytest-django's live server (transactional database).

A merchant logs in through the form, narrows the SKU table by typing in the search box,
and records a receipt through the htmx form: the available number changes without a
full page load. Screenshots of the overview and a SKU page land in /tmp for a look.
"""

import os
from decimal import Decimal

import pytest
from django.utils import timezone

from channels.models import Listing, ListingState
from channels.services import channel_create
from ledger.services import (
    location_default,
    sku_create,
    sku_get,
    stock_receive,
    stock_reserve,
)
from tests.dashboard.browser_support import CHROMIUM, PASSWORD

SCREENSHOTS = {
    "overview": "/tmp/dashboard-overview.png",
    "sku": "/tmp/dashboard-sku.png",
    "overview-phone": "/tmp/dashboard-overview-phone.png",
    "sku-phone": "/tmp/dashboard-sku-phone.png",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("async_unsafe_orm"),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing: install Debian's chromium package "
        "(apt-get install -y chromium); Playwright cannot download browsers here",
    ),
]


@pytest.fixture
def shop(transactional_db, monkeypatch) -> None:
    """Two channels and a few SKUs with stock, an open order and confirmed listings."""
    # Nothing drains an outbox here: keep the on-commit pushes out of any broker.
    monkeypatch.setattr("foundation.queueing.enqueue", lambda *args, **kwargs: None)
    location_default()
    web = channel_create(slug="web-shop", kind="sandbox", name="Web shop")
    channel_create(
        slug="market",
        kind="sandbox",
        name="Marketplace",
        allocation={"mode": "share", "share_percent": Decimal(50), "buffer_units": 1},
    )
    catalogue = [
        ("TEE-RED-M", "Tee, red, M", 12),
        ("TEE-BLUE-L", "Tee, blue, L", 4),
        ("MUG-WHITE", "Mug, white", 30),
        ("CAP-BLACK", "Cap, black", 0),
        ("SOCKS-3PK", "Socks, 3-pack", 18),
    ]
    for code, title, quantity in catalogue:
        sku = sku_create(code=code, title=title)
        if quantity:
            stock_receive(sku=sku, quantity=quantity)
    stock_reserve(sku=sku_get("TEE-RED-M"), quantity=2, order_id="WEB-1001")
    # Stands in for the drainer reading the web shop's numbers back after a push.
    for listing in Listing.objects.filter(channel=web):
        Listing.objects.filter(pk=listing.pk).update(
            confirmed=listing.published, confirmed_at=timezone.now(), state=ListingState.IN_SYNC
        )


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_search_and_record_a_receipt_without_a_reload(live_server, user, shop, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, user.username)

    rows = page.locator("#sku-rows tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator(".health")).to_contain_text("Outbox backlog")
    page.screenshot(path=SCREENSHOTS["overview"], full_page=True)

    # Search as you type: only the rows partial is swapped, the URL follows.
    page.evaluate("window.__sameDocument = true")
    page.locator("#search").press_sequentially("tee", delay=40)
    expect(rows).to_have_count(2)
    expect(page.locator("#sku-rows")).not_to_contain_text("MUG-WHITE")
    assert "q=tee" in page.url
    assert page.evaluate("window.__sameDocument") is True

    page.click("#sku-rows >> text=TEE-RED-M")
    page.wait_for_url(f"{live_server.url}/skus/TEE-RED-M/")
    available = page.locator('[data-total="available"]')
    expect(available).to_have_text("10")  # 12 on hand, 2 committed

    # Record a receipt through the htmx form; the page is not reloaded.
    page.evaluate("window.__sameDocument = true")
    page.select_option("#mv-kind", "receipt")
    page.fill("#mv-quantity", "5")
    page.click("#movement-form button[type=submit]")
    expect(available).to_have_text("15")
    expect(page.locator("#notice")).to_contain_text("Received 5 units at Main warehouse.")
    expect(page.locator("#history tbody tr").first).to_contain_text("Receipt")
    expect(page.locator("#history tbody tr").first).to_contain_text(user.username)
    assert page.evaluate("window.__sameDocument") is True

    # Bad input is explained inline and changes nothing.
    page.fill("#mv-quantity", "0")
    page.click("#movement-form button[type=submit]")
    expect(page.locator("#movement-form .form-errors")).to_contain_text("Nothing was recorded.")
    expect(page.locator("#movement-form")).to_contain_text("Zero units would change nothing")
    expect(available).to_have_text("15")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=SCREENSHOTS["sku"], full_page=True)

    # The same pages at a phone's width, for a look.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/")
    expect(phone.locator("#sku-rows tbody tr")).to_have_count(5)
    phone.screenshot(path=SCREENSHOTS["overview-phone"], full_page=True)
    phone.goto(f"{live_server.url}/skus/TEE-RED-M/")
    expect(phone.locator('[data-total="available"]')).to_have_text("15")
    phone.screenshot(path=SCREENSHOTS["sku-phone"], full_page=True)


@pytest.fixture
def oversold(shop) -> None:
    """The marketplace sold 2 caps the hub did not have. (Written before the browser
    starts: inside Playwright's greenlet Django would open a second connection that
    outlives the test.)"""
    stock_reserve(
        sku=sku_get("CAP-BLACK"),
        quantity=2,
        order_id="MKT-77",
        channel_slug="market",
        allow_oversell=True,
    )


def test_resolve_an_oversell_incident_in_place(live_server, user, oversold, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/incidents/?status=open")
    row = page.locator("#incident-rows tbody tr").first
    expect(row).to_contain_text("MKT-77")
    page.evaluate("window.__sameDocument = true")

    # An empty note is stopped by the browser; a blank one by the hub, which explains.
    row.locator("input[name=resolution]").fill("   ")
    row.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("Say how the incident was resolved")

    row = page.locator("#incident-rows tbody tr").first
    row.locator("input[name=resolution]").fill("MKT-77 cancelled by the marketplace")
    row.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("Resolved the oversell of CAP-BLACK")
    expect(page.locator("#incident-rows")).to_contain_text("No open oversell incidents")
    assert page.evaluate("window.__sameDocument") is True
    page.goto(f"{live_server.url}/incidents/?status=resolved")
    expect(page.locator("#incident-rows tbody tr").first).to_contain_text(
        f"by {user.username}: MKT-77 cancelled by the marketplace"
    )
