"""The staff half of the dashboard in a real browser (Debian's Chromium through
Playwright, as tests/dashboard/test_browser.py launches it): every role logs in through
the form and walks every page; stock received on one tab shows up on another without a
reload; a dead-letter entry is retried; a buffer is previewed as it is typed, saved, and
the pushed number follows; a drift row is approved. A screenshot of every page (laptop
and phone) is kept under var/test-artifacts/ for a person to look at."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from channels.models import (
    ChannelAudit,
    ChannelAuditKind,
    ChannelOrderLine,
    Drift,
    InboundEvent,
    Listing,
    ListingState,
    OutboxEntry,
    OutboxStatus,
)
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret
from ledger.services import location_create, location_default, sku_create, sku_get, stock_receive
from tests.dashboard.browser_support import CHROMIUM, log_in
from tests.factories import role_user

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("async_unsafe_orm"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def staff_shop(transactional_db, monkeypatch) -> dict:
    """Two sandbox channels (nothing drains: pushes stay pending), stock, a dead-letter
    entry, drift rows, orders and confirmed pushes for the charts; one user per role.
    Written before the browser starts."""
    monkeypatch.setattr("foundation.queueing.enqueue", lambda *args, **kwargs: None)
    location_default()
    location_create(code="store-2", name="Second store", priority=5)
    closed = {"base_url": "http://127.0.0.1:9/sandbox/web"}
    web = channel_create(
        slug="web",
        kind="sandbox",
        name="Web shop",
        webhook_secret=make_standard_secret(),
        settings=closed,
    )
    market = channel_create(
        slug="market",
        kind="sandbox",
        name="Marketplace",
        settings=closed,
        allocation={"mode": "share", "share_percent": Decimal(50), "buffer_units": 1},
    )
    for code, title, quantity in (
        ("TEE-RED-M", "Tee, red, M", 10),
        ("TEE-BLUE-L", "Tee, blue, L", 4),
        ("MUG-WHITE", "Mug, white", 30),
        ("CAP-BLACK", "Cap, black", 0),
    ):
        sku = sku_create(code=code, title=title)
        if quantity:
            stock_receive(sku=sku, quantity=quantity)
    now = timezone.now()
    # Pushes that reached the channel (for the latency chart), at different hours.
    for hours, entry in enumerate(OutboxEntry.objects.filter(channel=web)):
        OutboxEntry.objects.filter(pk=entry.pk).update(
            status=OutboxStatus.CONFIRMED,
            confirmed_at=now - timedelta(hours=hours * 3),
            enqueued_at=now - timedelta(hours=hours * 3, seconds=1 + hours),
        )
        Listing.objects.filter(pk=entry.listing_id).update(
            confirmed=entry.quantity, confirmed_at=now, state=ListingState.IN_SYNC
        )
    # A push to the marketplace that kept failing.
    dead = OutboxEntry.objects.filter(channel=market, listing__sku__code="MUG-WHITE").get()
    OutboxEntry.objects.filter(pk=dead.pk).update(
        status=OutboxStatus.DEAD, attempts=8, last_error="sandbox: HTTP 503 Service Unavailable"
    )
    Listing.objects.filter(pk=dead.listing_id).update(state=ListingState.DEAD)
    for attempt in range(1, 9):
        ChannelAudit.objects.create(
            kind=ChannelAuditKind.DEAD if attempt == 8 else ChannelAuditKind.FAIL,
            channel=market,
            sku=dead.listing.sku,
            outbox_entry=dead,
            message=f"retry in {2**attempt}s: sandbox: HTTP 503 Service Unavailable",
        )
    # Drift: the web shop shows one more cap than the hub published.
    for code, severity in (("TEE-BLUE-L", "major"), ("CAP-BLACK", "minor")):
        listing = Listing.objects.get(channel=web, sku__code=code)
        Drift.objects.create(
            channel=web,
            listing=listing,
            sku=listing.sku,
            hub_quantity=listing.published,
            channel_quantity=listing.published + 1,
            severity=severity,
            reasoning=f"The web shop reported {listing.published + 1} in an inventory webhook.",
        )
    event = InboundEvent.objects.create(
        channel=web, dedupe_key="evt-1", topic="order.created", body="{}", status="processed"
    )
    ChannelOrderLine.objects.create(
        channel=web,
        order_id="WEB-1001",
        line_ref="1",
        sku=sku_get("TEE-RED-M"),
        quantity=1,
        placed=True,
        fulfilled=True,
    )
    ChannelOrderLine.objects.create(
        channel=market,
        order_id="MKT-77",
        line_ref="1",
        sku=sku_get("MUG-WHITE"),
        quantity=2,
        placed=True,
        cancelled=True,
    )
    assert event.pk
    return {role: role_user(role) for role in ("Admin", "Merchant", "Approver", "Viewer")}


PAGES = [
    ("overview", "/"),
    ("sku", "/skus/TEE-RED-M/"),
    ("sku-audit", "/audit/skus/TEE-RED-M/"),
    ("channels", "/channels/"),
    ("channel", "/channels/web/"),
    ("allocation", "/channels/market/allocation/"),
    ("orders", "/orders/"),
    ("drift", "/drift/"),
    ("dlq", "/dlq/"),
    ("incidents", "/incidents/"),
    ("audit", "/audit/"),
    ("locations", "/locations/"),
]
ADMIN_PAGES = [
    ("channel-new", "/channels/new/"),
    ("channel-edit", "/channels/web/edit/"),
    ("sku-new", "/skus/new/"),
]


@pytest.mark.parametrize("role", ["Admin", "Merchant", "Approver", "Viewer"])
def test_every_role_logs_in_and_walks_every_page(live_server, staff_shop, browser, role):
    from playwright.sync_api import expect

    person = staff_shop[role]
    page = log_in(browser, live_server.url, person.username)
    expect(page.locator(".who")).to_contain_text(role)
    for name, url in PAGES:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, (role, url, response.status)
        expect(page.locator("h1")).to_be_visible()
        shot(page, f"{role.lower()}-{name}")
    for name, url in ADMIN_PAGES:
        response = page.goto(f"{live_server.url}{url}")
        if role == "Admin" or (role == "Merchant" and name in ("channel-edit", "sku-new")):
            assert response.status == 200, (role, url)
            shot(page, f"{role.lower()}-{name}")
        else:
            assert response.status == 403, (role, url)
            expect(page.locator("h1")).to_have_text("Your role does not allow this")
    # What each role may do shows as buttons; what it may not is refused by the server too.
    page.goto(f"{live_server.url}/dlq/")
    retry = page.locator("#dlq-rows button", has_text=re.compile("^Retry$"))
    expect(retry).to_have_count(1 if role in ("Admin", "Approver") else 0)
    page.goto(f"{live_server.url}/drift/")
    expect(page.locator("#drift-rows button", has_text=re.compile(r"^Push \d"))).to_have_count(
        2 if role in ("Admin", "Approver") else 0
    )
    if role in ("Viewer", "Merchant"):
        entry = OutboxEntry.objects.get(status=OutboxStatus.DEAD)
        status = page.evaluate(
            """async (id) => {
                const headers = JSON.parse(document.body.getAttribute("hx-headers"));
                const body = new URLSearchParams({act: "retry:" + id});
                const answer = await fetch("/dlq/act/", {method: "POST", headers, body});
                return answer.status;
            }""",
            entry.pk,
        )
        assert status == 403
    if role == "Viewer":
        status = page.evaluate(
            """async () => {
                const headers = JSON.parse(document.body.getAttribute("hx-headers"));
                const body = new URLSearchParams({kind: "receipt", quantity: "5"});
                return (await fetch("/skus/TEE-RED-M/", {method: "POST", headers, body})).status;
            }"""
        )
        assert status == 403
    if role == "Admin":
        phone = log_in(browser, live_server.url, person.username, viewport=PHONE)
        for name, url in PAGES + ADMIN_PAGES:
            phone.goto(f"{live_server.url}{url}")
            shot(phone, f"phone-{name}")


def test_stock_received_on_one_tab_shows_on_the_others_without_a_reload(
    live_server, staff_shop, browser
):
    from playwright.sync_api import expect

    person = staff_shop["Merchant"]
    overview = log_in(browser, live_server.url, person.username)
    channel = overview.context.new_page()
    channel.goto(f"{live_server.url}/channels/web/")
    chip = overview.locator("#sku-rows tr", has_text="TEE-RED-M").locator(
        'a.chip[href="/channels/web/"] .chip-num'
    )
    expect(chip).to_contain_text("10")
    row = channel.locator("#listing-rows tr", has_text="TEE-RED-M")
    expect(row.locator('[data-label="Published"]')).to_have_text("10")
    overview.evaluate("window.__sameDocument = true")
    channel.evaluate("window.__sameDocument = true")

    sku = overview.context.new_page()
    sku.goto(f"{live_server.url}/skus/TEE-RED-M/")
    sku.select_option("#mv-kind", "receipt")
    sku.fill("#mv-quantity", "5")
    sku.click("#movement-form button[type=submit]")
    expect(sku.locator("#notice")).to_contain_text("Received 5 units")

    # Within two seconds (and a little), without a reload.
    expect(chip).to_contain_text("15", timeout=3500)
    expect(row.locator('[data-label="Published"]')).to_have_text("15", timeout=3500)
    assert overview.evaluate("window.__sameDocument") is True
    assert channel.evaluate("window.__sameDocument") is True

    # A half-typed movement is not swapped away by the live refresh.
    sku.fill("#mv-quantity", "7")
    sku.fill("#mv-reason", "half typed")
    sku.wait_for_timeout(4500)
    assert sku.input_value("#mv-quantity") == "7"
    assert sku.input_value("#mv-reason") == "half typed"
    shot(overview, "live-overview-after-receipt")


def test_an_approver_retries_a_dead_letter_entry(live_server, staff_shop, browser):
    from playwright.sync_api import expect

    page = log_in(browser, live_server.url, staff_shop["Approver"].username)
    page.click("a.stat[href='/dlq/']")
    page.wait_for_url(f"{live_server.url}/dlq/")
    rows = page.locator("#dlq-rows tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("The channel's server kept failing")
    rows.first.locator("summary").click()
    expect(rows.first.locator("pre")).to_contain_text("HTTP 503 Service Unavailable")
    shot(page, "dlq-before-retry")
    page.evaluate("window.__sameDocument = true")
    rows.first.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator("#notice")).to_contain_text("Retried 1 entry")
    expect(page.locator("#dlq-rows")).to_contain_text("Nothing in the dead-letter queue")
    assert page.evaluate("window.__sameDocument") is True
    audit = ChannelAudit.objects.get(kind=ChannelAuditKind.RETRY)
    assert audit.actor == staff_shop["Approver"]
    shot(page, "dlq-after-retry")


def test_a_buffer_is_previewed_as_typed_then_saved_and_pushed(live_server, staff_shop, browser):
    from playwright.sync_api import expect

    page = log_in(browser, live_server.url, staff_shop["Merchant"].username)
    page.goto(f"{live_server.url}/channels/web/allocation/")
    cell = page.locator('#preview-default [data-preview="TEE-RED-M"]')
    expect(cell).to_have_text("10")
    page.fill("#id_buffer_units", "3")
    expect(cell).to_contain_text("7", timeout=3000)
    expect(page.locator("#preview-default")).to_contain_text("Preview, not saved")
    assert Listing.objects.get(channel__slug="web", sku__code="TEE-RED-M").published == 10
    shot(page, "allocation-preview")

    page.click("#rule-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("Saved the default rule of Web shop")
    assert Listing.objects.get(channel__slug="web", sku__code="TEE-RED-M").published == 7
    # The pushed number: the outbox holds a push of 7, shown on the SKU's trail.
    page.goto(f"{live_server.url}/audit/skus/TEE-RED-M/?kind=push")
    expect(page.locator("#trail")).to_contain_text("push of 7 to web queued")
    page.goto(f"{live_server.url}/channels/web/")
    expect(
        page.locator("#listing-rows tr", has_text="TEE-RED-M").locator('[data-label="Published"]')
    ).to_have_text("7")
    shot(page, "channel-after-buffer")


def test_an_approver_approves_a_drift_row_with_a_note(live_server, staff_shop, browser):
    from playwright.sync_api import expect

    page = log_in(browser, live_server.url, staff_shop["Approver"].username)
    page.goto(f"{live_server.url}/drift/")
    row = page.locator("#drift-rows tbody tr", has_text="TEE-BLUE-L")
    row.locator("input[type=text]").fill("counted on the shelf: the hub is right")
    row.get_by_role("button", name=re.compile("^Push")).click()
    expect(page.locator("#notice")).to_contain_text("Pushed the hub's number for TEE-BLUE-L")
    page.goto(f"{live_server.url}/drift/?status=all")
    expect(page.locator("#drift-rows")).to_contain_text("counted on the shelf: the hub is right")
    shot(page, "drift-decided")


def test_an_admin_creates_a_channel_and_tests_its_connection(live_server, staff_shop, browser):
    from playwright.sync_api import expect

    page = log_in(browser, live_server.url, staff_shop["Admin"].username)
    page.goto(f"{live_server.url}/channels/new/")
    page.fill("#id_slug", "wc")
    page.select_option("#ch-kind", "woocommerce")
    expect(page.locator("#id_woocommerce__cred__consumer_key")).to_be_visible()
    expect(page.locator("#id_shopify__location_id")).to_be_hidden()
    page.fill("#id_name", "W" * 150)
    page.fill("#id_base_url", "http://127.0.0.1:9/woocommerce/wc")
    page.click("form.channel-form button[type=submit]")
    expect(page.locator(".form-errors")).to_contain_text("The channel was not created.")
    expect(page.locator(".field-error")).to_contain_text("at most 100 characters; this one has 150")
    shot(page, "channel-new-refused")
    page.fill("#id_name", "Woo store")
    page.fill("#id_woocommerce__cred__consumer_key", "ck_1")
    page.fill("#id_woocommerce__cred__consumer_secret", "cs_1")
    page.click("form.channel-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/channels/wc/")
    expect(page.locator("#webhook-url")).to_contain_text("/webhooks/wc/")
    expect(page.locator("#new-secret")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Could not read from the channel")
    shot(page, "channel-created-tested")


def test_a_count_is_previewed_applied_and_its_big_line_approved(
    live_server, staff_shop, browser, settings
):
    from playwright.sync_api import expect

    settings.DRIFT_AUTO_FIX_MAX_DELTA = 5

    def on_hand(code: str) -> int:
        return sum(level.on_hand for level in sku_get(code).levels.all())

    page = log_in(browser, live_server.url, staff_shop["Merchant"].username)
    page.click("nav >> text=Counts")
    page.wait_for_url(f"{live_server.url}/counts/")
    page.fill("#count-csv", "sku,location,counted\nTEE-RED-M,,11\nMUG-WHITE,,100\n")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#preview-title")).to_have_text("Preview: 2 lines")
    expect(page.locator("tr.count-apply")).to_contain_text("TEE-RED-M")
    expect(page.locator("tr.count-needs_approval")).to_contain_text("MUG-WHITE")
    assert (on_hand("TEE-RED-M"), on_hand("MUG-WHITE")) == (10, 30)  # a preview writes nothing
    shot(page, "counts-preview")

    page.get_by_role("button", name="Apply this count").click()
    expect(page.locator("#report-title")).to_contain_text("Applied count")
    expect(page.locator("#awaiting-title")).to_have_text("Waiting for approval (1)")
    assert page.evaluate("window.__sameDocument") is True
    assert (on_hand("TEE-RED-M"), on_hand("MUG-WHITE")) == (11, 30)
    shot(page, "counts-applied")

    approver = log_in(browser, live_server.url, staff_shop["Approver"].username)
    approver.goto(f"{live_server.url}/counts/")
    row = approver.locator("section[aria-labelledby=awaiting-title] tr", has_text="MUG-WHITE")
    row.locator("input[name=note]").fill("recounted twice: 100 on the shelf")
    row.get_by_role("button", name="Approve").click()
    expect(approver.locator("#awaiting-title")).to_have_text("Waiting for approval (0)")
    assert on_hand("MUG-WHITE") == 100
