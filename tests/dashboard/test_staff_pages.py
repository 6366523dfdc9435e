"""The staff half of the dashboard: the dead-letter queue, the audit trail and log (with
its streamed CSV), channels created and edited in the browser, allocation with its
preview, locations, orders, drift review, charts, and the pages' query counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import (
    AllocationRule,
    Channel,
    ChannelAudit,
    ChannelAuditKind,
    ChannelOrderLine,
    Drift,
    DriftStatus,
    InboundEvent,
    Listing,
    OutboxEntry,
    OutboxStatus,
)
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret
from ledger.models import Location, Movement, Sku
from ledger.services import location_default, sku_create, sku_get, stock_receive
from tests.factories import role_user

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}

FIRST_SECRET = make_standard_secret()


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("foundation.queueing.enqueue", lambda *args, **kwargs: None)


def login(role: str) -> Client:
    client = Client()
    client.force_login(role_user(role))
    return client


@pytest.fixture
def admin() -> Client:
    return login("Admin")


@pytest.fixture
def shop():
    location_default()
    channel_create(
        slug="web",
        kind="sandbox",
        name="Web shop",
        webhook_secret=FIRST_SECRET,
        settings={"base_url": "http://127.0.0.1:9"},
    )
    channel_create(
        slug="market",
        kind="sandbox",
        name="Marketplace",
        settings={"base_url": "http://127.0.0.1:9"},
    )
    for code, quantity in (("TEE-RED-M", 12), ("MUG-WHITE", 30), ("CAP-BLACK", 0)):
        sku = sku_create(code=code, title=code.title())
        if quantity:
            stock_receive(sku=sku, quantity=quantity)


def kill(entry: OutboxEntry, error: str = "sandbox: HTTP 503 from the store") -> OutboxEntry:
    """Stands in for the drainer giving up on a push."""
    OutboxEntry.objects.filter(pk=entry.pk).update(
        status=OutboxStatus.DEAD, attempts=8, last_error=error
    )
    for attempt in (1, 8):
        ChannelAudit.objects.create(
            kind=ChannelAuditKind.FAIL if attempt == 1 else ChannelAuditKind.DEAD,
            channel=entry.channel,
            sku_id=entry.listing.sku_id,
            outbox_entry=entry,
            message=f"attempt {attempt}: {error}",
        )
    Listing.objects.filter(pk=entry.listing_id).update(state="dead")
    return OutboxEntry.objects.get(pk=entry.pk)


def dead_entries(n: int = 2, channel: str = "web") -> list[OutboxEntry]:
    entries = list(
        OutboxEntry.objects.filter(
            channel__slug=channel, status=OutboxStatus.PENDING
        ).select_related("channel", "listing")[:n]
    )
    return [kill(entry) for entry in entries]


def text(response) -> str:
    return response.content.decode()


# --- the dead-letter queue --------------------------------------------------------------


def test_the_dlq_lists_entries_with_the_error_in_words_and_the_raw_answer(admin, shop):
    entry = dead_entries(1)[0]
    response = admin.get("/dlq/")
    assert response.status_code == 200
    page = text(response)
    assert entry.listing.sku.code in page and "Web shop" in page
    assert "The channel&#x27;s server kept failing" in page or "server kept failing" in page
    assert "<details" in page and "HTTP 503 from the store" in page
    assert "First failure" in page and "Last failure" in page


def test_the_overview_dlq_card_links_to_the_queue(admin, shop):
    dead_entries(1)
    assert 'href="/dlq/"' in text(admin.get("/"))


def test_retry_one_entry_audits_the_person(admin, shop):
    entry = dead_entries(2)[0]
    response = admin.post("/dlq/act/", {"act": f"retry:{entry.pk}"}, **HTMX)
    assert response.status_code == 200
    assert "Retried 1 entry" in text(response)
    entry.refresh_from_db()
    assert entry.status == OutboxStatus.PENDING and entry.attempts == 0
    audit = ChannelAudit.objects.filter(kind=ChannelAuditKind.RETRY).get()
    assert audit.actor.groups.filter(name="Admin").exists()
    assert OutboxEntry.objects.filter(status=OutboxStatus.DEAD).count() == 1


def test_discard_a_selection_and_retry_by_channel(admin, shop):
    web = dead_entries(2, "web")
    dead_entries(2, "market")
    response = admin.post(
        "/dlq/act/", {"act": "discard:selected", "ids": [web[0].pk, web[1].pk]}, **HTMX
    )
    assert "Discarded 2 entries" in text(response)
    response = admin.post("/dlq/act/", {"act": "retry:channel", "scope_channel": "market"}, **HTMX)
    assert "Retried 2 entries" in text(response)
    assert not OutboxEntry.objects.filter(status=OutboxStatus.DEAD).exists()
    assert ChannelAudit.objects.filter(kind=ChannelAuditKind.DISCARD).count() == 2


def test_an_empty_selection_is_refused_with_a_message(admin, shop):
    dead_entries(1)
    response = admin.post("/dlq/act/", {"act": "retry:selected"}, **HTMX)
    assert response.status_code == 422
    assert "Tick at least one entry" in text(response)


def test_an_empty_dlq_says_what_it_means(admin, shop):
    assert "Nothing in the dead-letter queue" in text(admin.get("/dlq/"))


# --- audit ------------------------------------------------------------------------------


def test_the_sku_trail_shows_movements_pushes_and_people_and_filters(admin, shop):
    entry = dead_entries(1)[0]
    code = entry.listing.sku.code
    admin.post("/dlq/act/", {"act": f"retry:{entry.pk}"}, **HTMX)
    page = text(admin.get(f"/audit/skus/{code}/"))
    assert "Movement" in page and "Retry" in page and "Dead" in page
    only_movements = text(admin.get(f"/audit/skus/{code}/?kind=movement"))
    assert "Retry" not in only_movements.split('id="trail"')[1] and "receipt" in only_movements


def test_the_global_log_filters_and_pages(admin, shop):
    response = admin.get("/audit/?sku=TEE-RED-M")
    assert response.status_code == 200 and "TEE-RED-M" in text(response)
    assert "MUG-WHITE" not in text(response).split('id="log-rows"')[1]
    bad = admin.get("/audit/?since=yesterday&sku=NOPE")
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in text(bad) and "No SKU with code" in text(bad)


def test_the_log_pages_by_keyset_without_losing_rows(admin, shop):
    sku = sku_get("TEE-RED-M")
    for _ in range(60):
        stock_receive(sku=sku, quantity=1)
    seen, url = [], "/audit/?sku=TEE-RED-M"
    for _ in range(5):
        response = admin.get(url)
        page = text(response)
        seen.append(page.count("<tr>") - 1)
        if 'rel="next"' not in page:
            break
        url = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert (
        sum(seen)
        == Movement.objects.filter(sku=sku).count() + ChannelAudit.objects.filter(sku=sku).count()
    )


def test_the_csv_export_streams_every_row(admin, shop):
    response = admin.get("/audit/export.csv?channel=&sku=")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["at", "type", "sku", "channel", "actor", "summary", "id"]
    assert len(rows) - 1 >= Movement.objects.count()
    assert admin.get("/audit/export.csv?until=nope").status_code == 422


# --- channels ---------------------------------------------------------------------------


def test_an_admin_creates_a_channel_with_its_kind_settings(admin, shop):
    response = admin.post(
        "/channels/new/",
        {
            "slug": "shopify-eu",
            "kind": "shopify",
            "name": "Shopify EU",
            "enabled": "on",
            "base_url": "https://eu.example.com",
            "reconcile_interval_minutes": "30",
            "shopify__location_id": "77",
            "shopify__cred__access_token": "shpat_secret_1234",
            "woocommerce__api_path": "ignored",
        },
    )
    assert response.status_code == 302, text(response)
    channel = Channel.objects.get(slug="shopify-eu")
    assert channel.settings["location_id"] == "77" and "api_path" not in channel.settings
    assert channel.credentials == {"access_token": "shpat_secret_1234"}
    assert channel.webhook_secret  # made by the hub, shown once
    page = text(admin.get("/channels/shopify-eu/"))
    assert "/webhooks/shopify-eu/" in page and channel.webhook_secret in page
    assert channel.webhook_secret not in text(admin.get("/channels/shopify-eu/"))


def test_an_ebay_account_is_connected_with_a_refresh_token_from_the_form(admin, shop):
    response = admin.post(
        "/channels/new/",
        {
            "slug": "ebay-us",
            "kind": "ebay",
            "name": "eBay US",
            "enabled": "on",
            "base_url": "https://api.ebay.com",
            "reconcile_interval_minutes": "30",
            "ebay__marketplace_id": "EBAY_US",
            "ebay__cred__client_id": "Shop-Hub-PRD-1234",
            "ebay__cred__client_secret": "PRD-secret-5678",
            "ebay__cred__refresh_token": "v^1.1#i^1#refresh",
        },
    )
    assert response.status_code == 302, text(response)
    channel = Channel.objects.get(slug="ebay-us")
    assert channel.credentials == {
        "client_id": "Shop-Hub-PRD-1234",
        "client_secret": "PRD-secret-5678",
        "refresh_token": "v^1.1#i^1#refresh",
    }
    assert "PRD-secret-5678" not in text(admin.get("/channels/ebay-us/"))


def test_woocommerce_keys_in_the_query_string_are_a_setting_and_a_wrong_word_is_refused(
    admin, shop
):
    fields = {
        "slug": "woo",
        "kind": "woocommerce",
        "name": "Woo",
        "enabled": "on",
        "base_url": "https://woo.example.com",
        "reconcile_interval_minutes": "30",
        "woocommerce__cred__consumer_key": "ck_1",
        "woocommerce__cred__consumer_secret": "cs_1",
    }
    refused = admin.post("/channels/new/", {**fields, "woocommerce__auth": "cookie"})
    assert refused.status_code == 422
    assert "header" in text(refused) and "query" in text(refused)
    assert not Channel.objects.filter(slug="woo").exists()

    response = admin.post("/channels/new/", {**fields, "woocommerce__auth": "query"})
    assert response.status_code == 302, text(response)
    assert Channel.objects.get(slug="woo").settings["auth"] == "query"


def test_a_bad_channel_is_refused_in_plain_words(admin, shop):
    response = admin.post(
        "/channels/new/",
        {"slug": "web", "kind": "sandbox", "name": "x" * 101, "base_url": "ftp://x"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "at most 100 characters; this one has 101" in page
    assert "starts with https://" in page
    assert Channel.objects.count() == 2


def test_a_merchant_edits_a_channel_without_its_endpoint_fields(shop):
    merchant = login("Merchant")
    page = text(merchant.get("/channels/web/edit/"))
    assert "Base URL" not in page and "Access token" not in page
    response = merchant.post(
        "/channels/web/edit/",
        {"name": "Web store", "enabled": "on", "base_url": "https://evil.example"},
    )
    assert response.status_code == 302
    channel = Channel.objects.get(slug="web")
    assert channel.name == "Web store" and channel.settings["base_url"] == "http://127.0.0.1:9"
    assert merchant.get("/channels/new/").status_code == 403
    assert merchant.post("/channels/web/secret/", {"action": "rotate"}).status_code == 403


def test_rotate_the_secret_keeps_the_previous_until_removed(admin, shop):
    before = Channel.objects.get(slug="web").webhook_secret
    response = admin.post("/channels/web/secret/", {"action": "rotate"}, **HTMX)
    channel = Channel.objects.get(slug="web")
    assert channel.webhook_secret in text(response) and channel.previous_webhook_secret == before
    response = admin.post("/channels/web/secret/", {"action": "forget_previous"}, **HTMX)
    assert "previous secret is removed" in text(response)
    assert Channel.objects.get(slug="web").previous_webhook_secret == ""
    again = admin.post("/channels/web/secret/", {"action": "forget_previous"}, **HTMX)
    assert again.status_code == 422 and "no previous webhook secret" in text(again)


def test_test_connection_reports_in_place(admin, shop):
    response = admin.post("/channels/web/test/", **HTMX)
    assert response.status_code == 200
    assert "Could not read from the channel" in text(response)


def test_disable_and_enable(admin, shop):
    response = admin.post("/channels/web/enabled/", {"enabled": "0"}, **HTMX)
    assert "is disabled" in text(response) and not Channel.objects.get(slug="web").enabled
    admin.post("/channels/web/enabled/", {"enabled": "1"}, **HTMX)
    assert Channel.objects.get(slug="web").enabled


def test_the_channel_page_shows_the_breaker_and_last_failures(admin, shop):
    dead_entries(1)
    page = text(admin.get("/channels/web/"))
    assert "Circuit breaker" in page and "Closed: pushes flow normally." in page
    assert "server kept failing" in page
    live = admin.get("/channels/web/?part=live", **HTMX)
    assert 'id="channel-live"' in text(live) and "<html" not in text(live)


# --- allocation -------------------------------------------------------------------------


def test_the_preview_changes_nothing_and_save_republishes(admin, shop):
    before = dict(Listing.objects.filter(channel__slug="web").values_list("sku__code", "published"))
    response = admin.get(
        "/channels/web/allocation/preview/",
        {"mode": "pool", "buffer_units": "3", "share_percent": "100", "buffer_percent": "0"},
        **HTMX,
    )
    page = text(response)
    assert 'data-preview="TEE-RED-M">9' in page  # 12 available - 3
    assert "Preview, not saved" in page
    assert (
        dict(Listing.objects.filter(channel__slug="web").values_list("sku__code", "published"))
        == before
    )
    response = admin.post(
        "/channels/web/allocation/",
        {"mode": "pool", "buffer_units": "3", "share_percent": "100", "buffer_percent": "0"},
        **HTMX,
    )
    assert response.status_code == 200 and "Saved the default rule" in text(response)
    assert Listing.objects.get(channel__slug="web", sku__code="TEE-RED-M").published == 9
    assert OutboxEntry.objects.filter(
        listing__sku__code="TEE-RED-M", channel__slug="web", quantity=9
    ).exists()


def test_a_bad_rule_is_refused_and_explained(admin, shop):
    response = admin.post(
        "/channels/web/allocation/", {"mode": "share", "share_percent": "140"}, **HTMX
    )
    assert response.status_code == 422 and "between 0 and 100" in text(response)
    preview = admin.get(
        "/channels/web/allocation/preview/", {"mode": "pool", "buffer_units": "-1"}, **HTMX
    )
    assert "cannot be negative" in text(preview)
    # Shares partition the same stock: the service's refusal is shown.
    admin.post("/channels/market/allocation/", {"mode": "share", "share_percent": "60"}, **HTMX)
    response = admin.post(
        "/channels/web/allocation/", {"mode": "share", "share_percent": "60"}, **HTMX
    )
    assert response.status_code == 422 and "may not exceed 100%" in text(response)


def test_a_per_sku_override_with_its_preview(admin, shop):
    preview = admin.get(
        "/channels/web/allocation/preview/",
        {"scope": "override", "o-sku": "MUG-WHITE", "o-mode": "fixed", "o-fixed_quantity": "5"},
        **HTMX,
    )
    assert 'data-preview="MUG-WHITE">5' in text(preview)
    response = admin.post(
        "/channels/web/overrides/",
        {"o-sku": "MUG-WHITE", "o-mode": "fixed", "o-fixed_quantity": "5"},
        **HTMX,
    )
    assert "Saved the override for MUG-WHITE" in text(response)
    assert Listing.objects.get(channel__slug="web", sku__code="MUG-WHITE").published == 5
    unknown = admin.post("/channels/web/overrides/", {"o-sku": "NOPE", "o-mode": "pool"}, **HTMX)
    assert unknown.status_code == 422 and "No SKU with code" in text(unknown)
    response = admin.post("/channels/web/overrides/MUG-WHITE/delete/", **HTMX)
    assert "default rule applies to it again" in text(response)
    assert not AllocationRule.objects.filter(sku__isnull=False).exists()


# --- locations, orders, drift, charts ----------------------------------------------------


def test_locations_create_rename_and_priority(admin, shop):
    response = admin.post(
        "/locations/", {"code": "store-2", "name": "Second store", "priority": "5"}, **HTMX
    )
    assert response.status_code == 200 and "Created Second store" in text(response)
    response = admin.post(
        "/locations/store-2/", {"name": "Shop on the corner", "priority": "2"}, **HTMX
    )
    assert "Saved Shop on the corner" in text(response)
    place = Location.objects.get(code="store-2")
    assert (place.name, place.priority) == ("Shop on the corner", 2)
    too_long = admin.post("/locations/store-2/", {"name": "x" * 150, "priority": "2"}, **HTMX)
    assert too_long.status_code == 422 and "at most 100 characters" in text(too_long)
    duplicate = admin.post("/locations/", {"code": "store-2", "name": "Again"}, **HTMX)
    assert duplicate.status_code == 422 and "already exists" in text(duplicate)


def test_orders_show_lines_states_and_deliveries(admin, shop):
    web = Channel.objects.get(slug="web")
    event = InboundEvent.objects.create(
        channel=web, dedupe_key="e1", topic="order.created", body="{}", status="processed"
    )
    ChannelOrderLine.objects.create(
        channel=web, order_id="W-1", line_ref="1", sku=sku_get("TEE-RED-M"), quantity=2, placed=True
    )
    ChannelOrderLine.objects.create(
        channel=web,
        order_id="W-2",
        line_ref="1",
        sku=sku_get("MUG-WHITE"),
        quantity=1,
        placed=True,
        cancelled=True,
    )
    from ledger.models import Source
    from ledger.services import Origin, stock_reserve

    stock_reserve(
        sku=sku_get("TEE-RED-M"),
        quantity=2,
        order_id="W-1",
        origin=Origin(source=Source.CHANNEL, source_ref="web:W-1", inbound_event_id=event.pk),
    ) if "origin" in stock_reserve.__code__.co_varnames else None
    page = text(admin.get("/orders/"))
    assert "W-1" in page and "W-2" in page and "cancelled" in page
    assert "W-2" not in text(admin.get("/orders/?state=placed")).split('id="order-rows"')[1]


def test_drift_review_decides_inline_and_in_bulk(shop):
    web = Channel.objects.get(slug="web")
    rows = []
    for code, severity in (("TEE-RED-M", "major"), ("MUG-WHITE", "minor"), ("CAP-BLACK", "minor")):
        listing = Listing.objects.get(channel=web, sku__code=code)
        rows.append(
            Drift.objects.create(
                channel=web,
                listing=listing,
                sku=listing.sku,
                hub_quantity=listing.published,
                channel_quantity=listing.published + 2,
                severity=severity,
                reasoning="webhook said so",
            )
        )
    viewer, merchant, approver = login("Viewer"), login("Merchant"), login("Approver")
    assert viewer.get("/drift/").status_code == 200
    assert merchant.post("/drift/decide/", {"act": f"reject:{rows[0].pk}"}).status_code == 403
    response = approver.post(
        "/drift/decide/",
        {"act": f"push_hub:{rows[0].pk}", f"note-{rows[0].pk}": "hub is right"},
        **HTMX,
    )
    assert response.status_code == 200 and "Pushed the hub&#x27;s number for TEE-RED-M" in text(
        response
    )
    response = approver.post(
        "/drift/decide/",
        {"act": "reject:selected", "ids": [r.pk for r in rows], "bulk_note": "noise"},
        **HTMX,
    )
    assert "Rejected for 2 drift rows" in text(response)
    assert set(Drift.objects.values_list("status", flat=True)) == {
        DriftStatus.APPROVED,
        DriftStatus.REJECTED,
    }
    decided = text(approver.get("/drift/?status=all"))
    assert "hub is right" in decided and "noise" in decided


def test_charts_are_svg_from_the_database(admin, shop):
    entry = OutboxEntry.objects.filter(channel__slug="web").first()
    now = timezone.now()
    OutboxEntry.objects.filter(pk=entry.pk).update(
        status="confirmed", confirmed_at=now, enqueued_at=now - timedelta(seconds=3)
    )
    assert 'hx-trigger="load, every 30s"' in text(admin.get("/"))  # drawn after the page
    page = text(admin.get("/charts/"))
    assert page.count("<svg") == 4 and "Propagation latency" in page
    partial = text(admin.get("/charts/?channel=web"))
    assert partial.count("<svg") == 3 and "p95" in partial
    assert admin.get("/charts/?channel=nope").status_code == 404


# --- what the browser no longer cuts -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "X" * 300, "A SKU code can be at most 100 characters; this one has 300"),
        ("title", "t" * 5000, "A title can be at most 255 characters; this one has 5000"),
    ],
)
def test_too_long_sku_fields_are_refused_not_cut(admin, field, value, message):
    data = {"code": "OK-1", "title": "", "barcode": ""} | {field: value}
    response = admin.post("/skus/new/", data)
    assert response.status_code == 422
    assert message in text(response)
    assert not Sku.objects.exists()
    form = text(admin.get("/skus/new/"))
    assert "maxlength" not in form


def test_error_pages_are_readable(admin):
    response = admin.get("/no/such/page/")
    assert response.status_code == 404 and "There is nothing at this address" in text(response)


# --- query counts -----------------------------------------------------------------------


def _queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **headers).status_code == 200
    return len(captured)


def _grow(n: int, start: int = 0) -> None:
    """n SKUs, dead entries, audit rows, order lines and drift rows."""
    location_default()
    web = Channel.objects.get(slug="web")
    skus = Sku.objects.bulk_create(
        [Sku(code=f"BULK-{i:05d}", code_key=f"bulk-{i:05d}") for i in range(start, start + n)]
    )
    listings = Listing.objects.bulk_create([Listing(channel=web, sku=sku) for sku in skus])
    now = timezone.now()
    entries = OutboxEntry.objects.bulk_create(
        [
            OutboxEntry(
                channel=web,
                listing=listing,
                quantity=1,
                target_version=1,
                status="dead",
                next_attempt_at=now,
                enqueued_at=now,
                last_error="HTTP 500",
            )
            for listing in listings
        ]
    )
    ChannelAudit.objects.bulk_create(
        [
            ChannelAudit(
                kind="dead", channel=web, sku=e.listing.sku, outbox_entry=e, message="dead"
            )
            for e in entries
        ]
    )
    ChannelOrderLine.objects.bulk_create(
        [
            ChannelOrderLine(
                channel=web,
                order_id=f"O-{sku.code}",
                line_ref="1",
                sku=sku,
                quantity=1,
                placed=True,
            )
            for sku in skus
        ]
    )
    Drift.objects.bulk_create(
        [
            Drift(channel=web, listing=listing, sku=listing.sku, hub_quantity=1, channel_quantity=2)
            for listing in listings
        ]
    )


LIST_PAGES = [
    "/dlq/",
    "/orders/",
    "/drift/",
    "/audit/",
    "/channels/web/",
    "/channels/",
    "/locations/",
    "/channels/web/allocation/",
]


@pytest.mark.parametrize("url", LIST_PAGES)
def test_list_pages_cost_the_same_queries_with_10_or_1000_rows(admin, shop, url):
    _grow(10)
    small = _queries(admin, url)
    small_partial = _queries(admin, url, **HTMX)
    _grow(990, start=10)
    assert (_queries(admin, url), _queries(admin, url, **HTMX)) == (small, small_partial)
