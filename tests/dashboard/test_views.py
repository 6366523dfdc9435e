"""The dashboard pages: login, what each page shows, the movement form's answers to bad
input (a clear message, nothing written) and query counts that do not grow with data."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from channels.models import Drift, Listing, ListingState, OutboxEntry, OutboxStatus
from channels.services import channel_create
from ledger.models import (
    Movement,
    OversellIncident,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockOperation,
)
from ledger.services import (
    location_default,
    sku_create,
    sku_get,
    stock_receive,
    stock_reserve,
)
from tests.factories import LocationFactory, SkuFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return response.content.decode()


def shows(response, message: str) -> bool:
    """The message is on the page, as the template escapes it."""
    return escape(message) in text(response)


def ledger_snapshot() -> tuple:
    """Everything a movement could write."""
    return (
        Movement.objects.count(),
        StockOperation.objects.count(),
        sorted(StockLevel.objects.values_list("sku_id", "location_id", "on_hand", "committed")),
        sorted(Listing.objects.values_list("id", "published")),
        OutboxEntry.objects.count(),
    )


# --- login ------------------------------------------------------------------------------

PAGES = ["/", "/skus/new/", "/skus/TEE-1/", "/channels/", "/channels/shop/", "/incidents/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_a_login(client, url):
    SkuFactory(code="TEE-1")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_posting_a_movement_needs_a_login(client):
    sku = SkuFactory(code="TEE-1")
    before = ledger_snapshot()
    response = client.post(f"/skus/{sku.code}/", {"kind": "receipt", "quantity": "5"})
    assert response.status_code == 302
    assert ledger_snapshot() == before


def test_a_wrong_password_is_refused_with_a_message(client, user):
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": "wrong", "next": "/"}
    )
    assert response.status_code == 200
    assert "Please enter a correct username and password" in text(response)


def test_login_page_logs_a_merchant_in(client, user):
    page = client.get("/accounts/login/?next=/")
    assert page.status_code == 200
    assert 'name="username"' in text(page) and 'name="password"' in text(page)
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": "correct horse battery", "next": "/"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


# --- overview ---------------------------------------------------------------------------


def test_overview_without_skus_explains_how_to_add_them(merchant):
    response = merchant.get("/")
    assert response.status_code == 200
    assert "No SKUs yet" in text(response)
    assert 'href="/skus/new/"' in text(response)
    assert "/api/v1/skus/" in text(response)


def test_overview_shows_totals_and_channel_chips(merchant):
    channel_create(slug="shop", kind="sandbox", name="Shop")
    sku = sku_create(code="TEE-RED-M", title="Tee, red, M")
    stock_receive(sku=sku, quantity=9)
    stock_reserve(sku=sku, quantity=4, order_id="A-1")
    response = merchant.get("/")
    body = text(response)
    assert "TEE-RED-M" in body and escape("Tee, red, M") in body
    assert 'data-label="On hand">9</td>' in body
    assert 'data-label="Committed">4</td>' in body
    assert 'data-label="Available" class="num strong">5</td>' in body
    assert "state-pending" in body and "shop" in body
    assert "Outbox backlog" in body and "Dead-letter queue" in body
    assert "Open oversell incidents" in body


def test_search_swaps_only_the_rows_partial(merchant):
    SkuFactory(code="TEE-RED-M", title="Tee")
    SkuFactory(code="MUG-BLUE", title="Mug")
    response = merchant.get("/?q=tee", **HTMX)
    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="sku-rows"')
    assert "<html" not in body and "Outbox backlog" not in body
    assert "TEE-RED-M" in body and "MUG-BLUE" not in body
    assert "HX-Request" in response["Vary"]


def test_search_without_match_says_so(merchant):
    SkuFactory(code="TEE-RED-M")
    response = merchant.get("/?q=sofa", **HTMX)
    assert shows(response, "No SKU matches “sofa”")
    assert "No SKUs yet" not in text(response)


def test_overview_paginates(merchant):
    for i in range(55):
        SkuFactory(code=f"SKU-{i:03d}")
    first = text(merchant.get("/"))
    assert "SKU-049" in first and "SKU-050" not in first and "Page 1<" in first
    assert "SKUs 1–50 of 55 " in first and 'rel="next"' in first
    second = text(merchant.get("/?page=2", **HTMX))
    assert "SKU-050" in second and "SKU-054" in second and "SKU-000" not in second
    assert "SKUs 51–55 of 55" in second and 'rel="next"' not in second
    # Past the end (the list got shorter) or nonsense: the first page.
    for page in ("9", "x", "-3"):
        assert "SKU-000" in text(merchant.get(f"/?page={page}", **HTMX))


def test_a_search_pages_without_counting(merchant):
    for i in range(55):
        SkuFactory(code=f"SKU-{i:03d}", title="Tee, red")
    first = text(merchant.get("/?q=RED", **HTMX))
    assert "SKUs 1–50 matching “RED” (more on the next page" in first
    assert "SKU-049" in first and 'rel="next"' in first
    assert "SKU-001" in text(merchant.get("/?q=ku-001", **HTMX))


def test_a_large_catalogue_shows_an_estimate(merchant, monkeypatch):
    from django.db import connection

    for i in range(30):
        SkuFactory(code=f"SKU-{i:03d}")
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's estimate")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_sku")
    monkeypatch.setattr("ledger.selectors.SKU_COUNT_EXACT_BELOW", 10)
    body = text(merchant.get("/", **HTMX))
    assert "SKUs 1–30 of <span" in body and ">about 30</span>" in body


def test_history_restore_request_gets_the_whole_page(merchant):
    SkuFactory(code="TEE-RED-M")
    response = merchant.get("/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in text(response)


def build_catalogue(n: int, *, start: int = 0) -> None:
    """Channels and SKUs numbered start..n-1; every SKU is listed on every channel and has
    stock and an open order."""
    for i in range(start, n):
        channel_create(slug=f"shop-{i:02d}", kind="sandbox", name=f"Shop {i}")
    for i in range(start, n):
        sku = sku_create(code=f"SKU-{i:03d}", title=f"Product {i}")
        stock_receive(sku=sku, quantity=10 + i)
        stock_reserve(sku=sku, quantity=1, order_id=f"O-{i}")


def count_queries(client, url: str, **extra) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **extra).status_code == 200
    return len(queries)


def test_overview_costs_the_same_queries_for_3_or_30_skus_and_channels(
    merchant, django_assert_num_queries
):
    build_catalogue(3)
    page_queries = count_queries(merchant, "/")
    rows_queries = count_queries(merchant, "/?q=sku", **HTMX)
    # session, user, the role's permissions and groups, rows (one more than a page: the
    # list is not counted), listings with channels; the page without a search adds the
    # catalogue's size (one query, an estimate when large) and 5 health numbers (the last
    # digest among them; the charts come in a request of their own)
    assert (page_queries, rows_queries) == (13, 6)

    build_catalogue(30, start=3)
    with django_assert_num_queries(page_queries):
        response = merchant.get("/")
    assert text(response).count('class="chip state-') >= 30 * 30
    with django_assert_num_queries(rows_queries):
        merchant.get("/?q=sku", **HTMX)


# --- SKU page ---------------------------------------------------------------------------


def build_busy_sku(n: int, *, start: int = 0):
    """One SKU on more channels, stocked at more locations, with more open reservations."""
    for i in range(start, n):
        channel_create(slug=f"shop-{i:02d}", kind="sandbox", name=f"Shop {i}")
    sku = sku_create(code="TEE-RED-M", title="Tee") if not start else sku_get("TEE-RED-M")
    for _ in range(start, n):
        place = LocationFactory()
        stock_receive(sku=sku, quantity=5, location=place)
        stock_reserve(sku=sku, quantity=1, order_id=f"O-{place.code}", location=place)
    return sku


def test_sku_page_costs_the_same_queries_for_3_or_30_channels(merchant, django_assert_num_queries):
    sku = build_busy_sku(3)
    url = f"/skus/{sku.code}/"
    queries = count_queries(merchant, url)
    # session, user, permissions, groups, the page's own check of a permission, sku,
    # locations, levels, listings, reservations + lines, movements
    assert queries == 12

    build_busy_sku(30, start=3)
    with django_assert_num_queries(queries):
        response = merchant.get(url)
    body = text(response)
    assert body.count("Release</button>") == 30
    assert body.count('href="/channels/shop-') == 30
    assert body.count('data-label="Kind"') == 60  # 30 receipts, 30 reservations
    # The Refresh button: the stock partial, without the page's header (the person's
    # groups); the live poller asks for the same numbers.
    with django_assert_num_queries(queries - 1):
        merchant.get(url, **HTMX)
    with django_assert_num_queries(queries - 1):
        merchant.get(f"{url}?part=live", **HTMX)


def test_sku_page_shows_levels_channels_history_and_reservations(merchant, user):
    channel_create(slug="shop", kind="sandbox", name="Shop")
    sku = sku_create(code="TEE-RED-M", title="Tee")
    stock_receive(sku=sku, quantity=7)
    stock_reserve(sku=sku, quantity=2, order_id="ORDER-77")
    body = text(merchant.get("/skus/tee-red-m/"))  # codes match case-insensitively
    assert 'data-total="on_hand">7<' in body
    assert 'data-total="committed">2<' in body
    assert 'data-total="available">5<' in body
    assert "Main warehouse" in body
    assert "ORDER-77" in body and "Release</button>" in body and "Ship</button>" in body
    assert "Receipt" in body and "Reserve" in body  # history, newest first
    assert body.index(">Reserve<") < body.index(">Receipt<")
    assert "Shop" in body and "Pending push" in body


def test_sku_page_says_why_a_push_waits(merchant):
    channel_create(slug="shop", kind="sandbox", name="Shop")
    sku = sku_create(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=7)
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).update(
        last_error="revision budget: the listing may be revised again in 864s"
    )
    body = text(merchant.get("/skus/TEE-RED-M/"))
    assert "this listing&#x27;s budget is spent: the push waits" in body
    assert "revision budget: the listing may be revised again in 864s</pre>" in body
    OutboxEntry.objects.all().delete()
    Listing.objects.update(state=ListingState.IN_SYNC, confirmed=7)
    assert "revision budget" not in text(merchant.get("/skus/TEE-RED-M/"))


def test_unknown_sku_is_a_404(merchant):
    assert merchant.get("/skus/NOPE/").status_code == 404


def test_sku_codes_with_a_slash_have_a_page(merchant):
    # New codes cannot have a '/' (the catalogue refuses it); one made before that rule
    # keeps its page.
    SkuFactory(code="TEE/RED/M")
    assert merchant.get("/skus/TEE/RED/M/").status_code == 200


# --- recording movements ----------------------------------------------------------------


def post_movement(client, sku, **fields):
    data = {"kind": "receipt", "location": location_default().code, "reason": ""}
    data.update(fields)
    return client.post(f"/skus/{sku.code}/", data, **HTMX)


def test_a_receipt_through_htmx_rerenders_levels_and_history(merchant, user):
    sku = SkuFactory(code="TEE-RED-M")
    response = post_movement(merchant, sku, quantity="5", request_key="k1")
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith('<div id="stock"')
    assert 'data-total="available">5<' in body
    assert 'id="levels"' in body and 'id="history"' in body
    assert "Received 5 units at Main warehouse." in body
    movement = Movement.objects.get(sku=sku)
    assert (movement.kind, movement.on_hand_delta, movement.source) == ("receipt", 5, "user")
    assert movement.actor == user


def test_a_receipt_without_htmx_redirects_back_to_the_sku(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    response = merchant.post(
        f"/skus/{sku.code}/", {"kind": "receipt", "quantity": "5", "location": "main"}
    )
    assert response.status_code == 302 and response["Location"] == "/skus/TEE-RED-M/"
    assert "Received 5 units" in text(merchant.get(response["Location"]))


def test_a_double_submitted_form_records_once(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    post_movement(merchant, sku, quantity="5", request_key="same-form")
    again = post_movement(merchant, sku, quantity="5", request_key="same-form")
    assert again.status_code == 200
    assert "already sent" in text(again)
    assert StockLevel.objects.get(sku=sku).on_hand == 5
    assert Movement.objects.filter(sku=sku).count() == 1


def test_an_adjustment_keeps_its_reason(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=5)
    response = post_movement(
        merchant, sku, kind="adjustment", quantity="-2", reason="2 damaged in transit"
    )
    assert response.status_code == 200
    movement = Movement.objects.filter(sku=sku).latest("id")
    assert (movement.on_hand_delta, movement.reason) == (-2, "2 damaged in transit")
    assert "2 damaged in transit" in text(response)


def test_a_count_and_a_return_and_a_transfer(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    store = LocationFactory(code="store", name="Store")
    stock_receive(sku=sku, quantity=10)
    assert post_movement(merchant, sku, kind="count", quantity="8").status_code == 200
    assert post_movement(merchant, sku, kind="return", quantity="1").status_code == 200
    response = post_movement(merchant, sku, kind="transfer", quantity="4", to_location="store")
    assert response.status_code == 200
    assert "Moved 4 units from Main warehouse to Store." in text(response)
    levels = dict(StockLevel.objects.filter(sku=sku).values_list("location__code", "on_hand"))
    assert levels == {"main": 5, "store": 4}
    assert StockLevel.objects.get(sku=sku, location=store).on_hand == 4


BAD_INPUT = [
    pytest.param(
        {"quantity": "0"}, "Zero units would change nothing. Enter how many units moved.", id="zero"
    ),
    pytest.param(
        {"quantity": "-3"},
        "A receipt cannot be negative. To take units off the books, record an adjustment "
        "with a negative number and a reason.",
        id="negative-receipt",
    ),
    pytest.param(
        {"quantity": "2.5"},
        "The quantity must be a whole number of units, like 5.",
        id="non-integer",
    ),
    pytest.param(
        {"quantity": "five"},
        "The quantity must be a whole number of units, like 5.",
        id="not-a-number",
    ),
    pytest.param(
        {"kind": "transfer", "quantity": "1", "to_location": "main"},
        "The units are already at Main warehouse: choose a different location to transfer to.",
        id="transfer-to-same-location",
    ),
    pytest.param(
        {"quantity": "1", "location": "nowhere"},
        "There is no location called 'nowhere'. Pick one from the list.",
        id="unknown-location",
    ),
    pytest.param(
        {"kind": "transfer", "quantity": "1", "to_location": "nowhere"},
        "There is no location called 'nowhere'. Pick one from the list.",
        id="unknown-transfer-destination",
    ),
    pytest.param(
        {"kind": "count", "quantity": "-1"},
        "A count cannot be negative: enter the number of units you counted (0 for an empty shelf).",
        id="negative-count",
    ),
    pytest.param({"quantity": ""}, "Enter a quantity.", id="missing-quantity"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_INPUT)
def test_bad_input_is_explained_and_nothing_is_written(merchant, fields, message):
    sku = SkuFactory(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=3)
    before = ledger_snapshot()
    response = post_movement(merchant, sku, **fields)
    assert response.status_code == 422
    assert shows(response, message)
    assert "Nothing was recorded." in text(response)
    assert 'data-total="available">3<' in text(response)
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"kind": "adjustment", "quantity": "-5", "reason": "lost"},
            "Only 1 of TEE-RED-M available; 5 requested.",
            id="adjust-below-committed",
        ),
        pytest.param(
            {"kind": "transfer", "quantity": "2", "to_location": "store"},
            "Only 1 of TEE-RED-M available; 2 requested.",
            id="transfer-more-than-available",
        ),
        pytest.param(
            {"kind": "count", "quantity": "1"},
            "A count of 1 for TEE-RED-M at main is below the 2 units committed to open "
            "orders: release or ship those orders first, or check the count.",
            id="count-below-committed",
        ),
    ],
)
def test_a_domain_error_is_shown_in_plain_words_and_nothing_is_written(merchant, fields, message):
    sku = SkuFactory(code="TEE-RED-M")
    LocationFactory(code="store", name="Store")
    stock_receive(sku=sku, quantity=3)
    stock_reserve(sku=sku, quantity=2, order_id="A-1")
    before = ledger_snapshot()
    response = post_movement(merchant, sku, **fields)
    assert response.status_code == 422
    assert "Nothing was recorded." in text(response)
    assert shows(response, message)
    assert ledger_snapshot() == before


def test_bad_input_without_htmx_renders_the_whole_page_with_the_message(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    before = ledger_snapshot()
    response = merchant.post(
        f"/skus/{sku.code}/", {"kind": "receipt", "quantity": "0", "location": "main"}
    )
    assert response.status_code == 422
    assert "<html" in text(response) and "Zero units would change nothing" in text(response)
    assert ledger_snapshot() == before


# --- reservations -----------------------------------------------------------------------


def test_release_and_ship_buttons(merchant, user):
    sku = SkuFactory(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=5)
    first = stock_reserve(sku=sku, quantity=2, order_id="A-1")
    second = stock_reserve(sku=sku, quantity=1, order_id="A-2")

    released = merchant.post(f"/reservations/{first.pk}/release/", **HTMX)
    assert released.status_code == 200
    assert "Released 2 units reserved for order A-1." in text(released)
    assert 'data-total="available">4<' in text(released)

    shipped = merchant.post(f"/reservations/{second.pk}/ship/", **HTMX)
    assert shipped.status_code == 200
    assert 'data-total="on_hand">4<' in text(shipped)
    statuses = dict(Reservation.objects.values_list("order_id", "status"))
    assert statuses == {"A-1": ReservationStatus.RELEASED, "A-2": ReservationStatus.SHIPPED}
    assert set(
        Movement.objects.filter(kind__in=["release", "ship"]).values_list("actor", flat=True)
    ) == {user.pk}


def test_releasing_twice_says_it_is_already_released(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=5)
    reservation = stock_reserve(sku=sku, quantity=2, order_id="A-1")
    merchant.post(f"/reservations/{reservation.pk}/release/", **HTMX)
    before = ledger_snapshot()
    again = merchant.post(f"/reservations/{reservation.pk}/release/", **HTMX)
    assert again.status_code == 422
    assert shows(again, f"Reservation {reservation.pk} is already released.")
    assert ledger_snapshot() == before


def test_release_needs_post(merchant):
    sku = SkuFactory()
    stock_receive(sku=sku, quantity=5)
    reservation = stock_reserve(sku=sku, quantity=2, order_id="A-1")
    # No rule for GET: refused before the view (fail closed), nothing released.
    assert merchant.get(f"/reservations/{reservation.pk}/release/").status_code in (403, 405)


# --- new SKU ----------------------------------------------------------------------------


def test_create_a_sku(merchant):
    channel_create(slug="shop", kind="sandbox", name="Shop")
    response = merchant.post(
        "/skus/new/", {"code": " Tee-Blue-L ", "title": "Tee, blue, L", "barcode": ""}
    )
    assert response.status_code == 302 and response["Location"] == "/skus/Tee-Blue-L/"
    page = text(merchant.get(response["Location"]))
    assert "Created Tee-Blue-L." in page
    assert Listing.objects.filter(sku__code="Tee-Blue-L", channel__slug="shop").exists()


def test_a_duplicate_sku_code_is_refused_with_a_reason(merchant):
    sku_create(code="TEE-BLUE-L")
    response = merchant.post("/skus/new/", {"code": "tee-blue-l", "title": ""})
    assert response.status_code == 422
    assert shows(
        response,
        "A SKU with code 'tee-blue-l' already exists (codes match case-insensitively).",
    )


def test_a_blank_sku_code_is_refused(merchant):
    response = merchant.post("/skus/new/", {"code": "  ", "title": "x"})
    assert response.status_code == 422
    assert "Enter a SKU code" in text(response)


# --- channels ---------------------------------------------------------------------------


def test_channel_list_shows_rule_counts_and_reconcile(merchant):
    channel = channel_create(
        slug="shop",
        kind="sandbox",
        name="Shop",
        allocation={"mode": "share", "share_percent": Decimal(40), "buffer_units": 2},
    )
    for _ in range(3):
        sku_create(code=f"SKU-{_}")
    entry = OutboxEntry.objects.filter(channel=channel).first()
    OutboxEntry.objects.filter(pk=entry.pk).update(status=OutboxStatus.DEAD)
    body = text(merchant.get("/channels/"))
    assert "Shop" in body and "Sandbox (channel simulator)" in body
    assert "40% share, buffer 2" in body
    assert 'data-label="Listings">3</td>' in body
    assert 'data-label="Pending" class="num busy-num">2</td>' in body
    assert (
        'data-label="DLQ" class="num negative strong"><a href="/dlq/?channel=shop">1</a></td>'
        in body
    )
    assert "never" in body


def test_channel_list_costs_the_same_queries_for_3_or_30_channels(
    merchant, django_assert_num_queries
):
    build_catalogue(3)
    queries = count_queries(merchant, "/channels/")
    # session, user, permissions, groups, channels with their counts, default rules
    assert queries == 7
    build_catalogue(30, start=3)
    with django_assert_num_queries(queries):
        response = merchant.get("/channels/")
    assert text(response).count('href="/channels/shop-') == 30


def test_channel_page_highlights_drift(merchant):
    channel = channel_create(slug="shop", kind="sandbox", name="Shop")
    steady = sku_create(code="STEADY")
    drifting = sku_create(code="DRIFTING")
    Listing.objects.filter(channel=channel, sku=steady).update(
        published=5, confirmed=5, state=ListingState.IN_SYNC
    )
    Listing.objects.filter(channel=channel, sku=drifting).update(
        published=5, confirmed=8, state=ListingState.IN_SYNC
    )
    # Drift is an undecided drift row; a listing whose push is on its way is pending.
    listing = Listing.objects.get(channel=channel, sku=drifting)
    Drift.objects.create(
        channel=channel, listing=listing, sku=drifting, hub_quantity=5, channel_quantity=8
    )
    body = text(merchant.get("/channels/shop/"))
    assert body.count('class="drift-row"') == 1
    row = body[body.index('class="drift-row"') :]
    assert row.index("DRIFTING") < row.index("</tr>")
    assert ">+3</span>" in row
    only = text(merchant.get("/channels/shop/?drift=1", **HTMX))
    assert "DRIFTING" in only and "STEADY" not in only


def test_unknown_channel_is_a_404(merchant):
    assert merchant.get("/channels/nope/").status_code == 404


# --- incidents --------------------------------------------------------------------------


def test_incidents_list_the_orders_involved(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    stock_reserve(
        sku=sku, quantity=2, order_id="SHOP-1001", channel_slug="shop", allow_oversell=True
    )
    stock_reserve(
        sku=sku, quantity=1, order_id="SHOP-1002", channel_slug="shop", allow_oversell=True
    )
    assert OversellIncident.objects.get().shortfall == 3
    body = text(merchant.get("/incidents/"))
    assert "TEE-RED-M" in body and "SHOP-1001" in body and "SHOP-1002" in body
    assert ">open</span>" in body
    assert 'data-label="Short by">3</td>' in body
    overview = text(merchant.get("/"))
    assert 'class="stat stat-danger"' in overview


def test_a_merchant_resolves_an_incident_from_the_list(merchant):
    sku = SkuFactory(code="TEE-RED-M")
    stock_reserve(
        sku=sku, quantity=2, order_id="SHOP-1001", channel_slug="shop", allow_oversell=True
    )
    incident = OversellIncident.objects.get()
    url = f"/incidents/{incident.pk}/resolve/"
    refused = merchant.post(url, {"resolution": " ", "status": "open"}, **HTMX)
    assert refused.status_code == 422 and "Say how the incident was resolved" in text(refused)
    assert OversellIncident.objects.get().status == "open"
    done = merchant.post(url, {"resolution": "SHOP-1001 cancelled", "status": "open"}, **HTMX)
    body = text(done)
    assert done.status_code == 200 and "Resolved the oversell of TEE-RED-M" in body
    assert "No open oversell incidents" in body  # the list stays filtered on open
    assert OversellIncident.objects.get().resolution == "SHOP-1001 cancelled"
    listed = text(merchant.get("/incidents/?status=resolved"))
    assert (
        "SHOP-1001 cancelled" in listed and "/resolve/" not in listed
    )  # no form on a resolved row


def test_no_incidents_says_so(merchant):
    assert "No oversell incidents" in text(merchant.get("/incidents/"))
