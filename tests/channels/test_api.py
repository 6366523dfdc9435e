"""The channel API over HTTP: rules, listings, CSV mapping, bad input, secrets."""

import pytest

from channels.models import AllocationRule, Channel, Listing

pytestmark = pytest.mark.django_db


def create_channel(api, slug, **extra):
    body = {"slug": slug, "kind": "sandbox", "name": slug.title(), **extra}
    return api.post("/api/v1/channels/", body, format="json")


def test_published_quantities_follow_pool_share_and_fixed_rules(api):
    assert (
        create_channel(api, "pool", allocation={"mode": "pool", "buffer_units": 1}).status_code
        == 201
    )
    assert (
        create_channel(
            api, "share", allocation={"mode": "share", "share_percent": "50"}
        ).status_code
        == 201
    )
    assert (
        create_channel(api, "fixed", allocation={"mode": "fixed", "fixed_quantity": 3}).status_code
        == 201
    )
    assert (
        api.post("/api/v1/skus/", {"code": "TEE-1", "title": "Tee"}, format="json").status_code
        == 201
    )
    receipt = {"sku": "TEE-1", "kind": "receipt", "quantity": 11}
    assert api.post("/api/v1/movements/", receipt, format="json").status_code == 201
    reservation = {"sku": "tee-1", "quantity": 2, "order_id": "W-1"}
    assert api.post("/api/v1/reservations/", reservation, format="json").status_code == 201
    detail = api.get("/api/v1/skus/TEE-1/").json()
    assert detail["available"] == 9
    published = {row["channel"]: row["published"] for row in detail["channels"]}
    assert published == {"pool": 8, "share": 4, "fixed": 3}
    assert {row["state"] for row in detail["channels"]} == {"pending"}


def test_overrides_replace_the_default_for_one_sku(api):
    create_channel(api, "shop")
    api.post("/api/v1/skus/", {"code": "A"}, format="json")
    api.post("/api/v1/movements/", {"sku": "A", "kind": "receipt", "quantity": 10}, format="json")
    response = api.post(
        "/api/v1/channels/shop/allocations/",
        {"sku": "A", "mode": "fixed", "fixed_quantity": 2},
        format="json",
    )
    assert response.status_code == 201
    assert Listing.objects.get(sku__code="A").published == 2
    assert api.delete("/api/v1/channels/shop/allocations/A/").status_code == 204
    assert Listing.objects.get(sku__code="A").published == 10


def test_secrets_are_write_only_and_masked(api):
    response = create_channel(
        api,
        "shop",
        webhook_secret="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        credentials={"token": "abcd1234efgh5678wxyz", "pin": "abcd1234wxyz"},
    )
    body = response.json()
    text = response.content.decode()
    assert "c2VjcmV0" not in text and "abcd1234" not in text
    assert body["webhook_secret_hint"] == "••••ZXQ="
    # Four characters of a secret of twenty or more; none of a shorter one.
    assert body["credentials_hint"] == {"token": "••••wxyz", "pin": "••••"}
    assert Channel.objects.get(slug="shop").webhook_secret.startswith("whsec_")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "myspace"}, "kind"),
        ({"slug": "not a slug"}, "slug"),
        ({"allocation": {"mode": "share", "share_percent": "120"}}, "share_percent"),
        ({"allocation": {"buffer_units": -1}}, "buffer_units"),
        ({"allocation": {"mode": "fixed", "fixed_quantity": -5}}, "fixed_quantity"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_channels_are_refused_with_the_field_named(api, body, field):
    payload = {"slug": "shop", "kind": "sandbox", "name": "Shop", **body}
    response = api.post("/api/v1/channels/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["message"]
    assert not Channel.objects.exists()


BAD_SETTINGS = [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 26}, "batch_size"),  # eBay takes 25 a call
    ({"batch_size": "10"}, "batch_size"),
    ({"rate_limit_per_second": -1}, "rate_limit_per_second"),
    ({"rate_limit_burst": 2.5}, "rate_limit_burst"),
    ({"timeout_seconds": "soon"}, "timeout_seconds"),
    ({"claim_lease_seconds": 1}, "claim_lease_seconds"),
    ({"retry_schedule_seconds": []}, "retry_schedule_seconds"),
    ({"retry_schedule_seconds": [30, "x"]}, "retry_schedule_seconds"),
    ({"retry_schedule_seconds": [30, -1]}, "retry_schedule_seconds"),
    ({"revisions_per_listing_per_day": -1}, "revisions_per_listing_per_day"),
    ({"compare_and_set": "yes"}, "compare_and_set"),
    ({"reconcile_interval_minutes": True}, "reconcile_interval_minutes"),
]


@pytest.mark.parametrize(("settings", "field"), BAD_SETTINGS)
def test_a_channel_with_bad_settings_is_refused_with_the_setting_named(api, settings, field):
    payload = {"slug": "shop", "kind": "ebay", "name": "Shop", "settings": settings}
    response = api.post("/api/v1/channels/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_channel" and field in body["message"]
    assert body["detail"]["field"] == f"settings.{field}"
    assert not Channel.objects.exists()


@pytest.mark.parametrize(("settings", "field"), BAD_SETTINGS)
def test_bad_settings_are_refused_on_update_and_nothing_changes(api, settings, field):
    create_channel(api, "shop", kind="ebay", settings={"timeout_seconds": 5})
    response = api.patch("/api/v1/channels/shop/", {"settings": settings}, format="json")
    assert response.status_code == 400 and field in response.json()["message"]
    channel = Channel.objects.get()
    assert channel.settings == {"timeout_seconds": 5} and channel.batch_size == 25


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://admin:hunter2-pw@shop.example.com", "user name or password"),
        ("https://shop.example.com/wp-json?consumer_secret=hunter2-pw", "'consumer_secret'"),
        ("https://shop.example.com/api?access_token=hunter2-pw&x=1", "'access_token'"),
    ],
)
def test_a_credential_inside_an_address_is_refused_without_echoing_it(api, url, named):
    created = api.post(
        "/api/v1/channels/",
        {"slug": "shop", "kind": "sandbox", "name": "Shop", "settings": {"base_url": url}},
        format="json",
    )
    assert created.status_code == 400
    body = created.json()
    assert body["detail"]["field"] == "settings.base_url" and named in body["message"]
    assert "hunter2" not in created.content.decode()
    assert not Channel.objects.exists()

    create_channel(api, "shop", settings={"base_url": "https://shop.example.com"})
    moved = api.patch("/api/v1/channels/shop/", {"settings": {"base_url": url}}, format="json")
    assert moved.status_code == 400 and "hunter2" not in moved.content.decode()
    assert Channel.objects.get().settings["base_url"] == "https://shop.example.com"


def test_settings_set_the_channels_limits_on_update_too(api):
    create_channel(api, "shop", kind="ebay")
    response = api.patch(
        "/api/v1/channels/shop/",
        {"settings": {"rate_limit_per_second": 2, "rate_limit_burst": 4, "batch_size": 10}},
        format="json",
    )
    assert response.status_code == 200
    channel = Channel.objects.get()
    assert (channel.rate_limit_per_second, channel.rate_limit_burst, channel.batch_size) == (
        2,
        4,
        10,
    )


def test_duplicate_slug_is_refused(api):
    create_channel(api, "shop")
    response = create_channel(api, "shop")
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == "slug"
    assert Channel.objects.count() == 1


def test_shares_over_100_percent_across_channels_are_refused(api):
    assert (
        create_channel(api, "a", allocation={"mode": "share", "share_percent": "60"}).status_code
        == 201
    )
    response = create_channel(api, "b", allocation={"mode": "share", "share_percent": "50"})
    assert response.status_code == 400
    assert "100%" in response.json()["message"]
    assert not Channel.objects.filter(slug="b").exists()
    api.post("/api/v1/skus/", {"code": "A"}, format="json")
    create_channel(api, "c")
    response = api.post(
        "/api/v1/channels/c/allocations/",
        {"sku": "A", "mode": "share", "share_percent": "41"},
        format="json",
    )
    assert response.status_code == 400
    assert not AllocationRule.objects.filter(sku__code="A").exists()


def test_listing_for_an_unknown_sku_is_404(api):
    create_channel(api, "shop")
    response = api.post("/api/v1/channels/shop/listings/", {"sku": "NOPE"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "sku_not_found"
    assert not Listing.objects.exists()


def test_csv_import_reports_every_row(api):
    api.post(
        "/api/v1/channels/", {"slug": "shopify", "kind": "shopify", "name": "S"}, format="json"
    )
    api.post("/api/v1/skus/", {"code": "A"}, format="json")
    api.post("/api/v1/skus/", {"code": "B"}, format="json")
    csv_text = (
        "sku,channel,external_id,external_parent_id,external_location_id\n"
        "a,shopify,111,,9\n"
        "B,shopify,,,\n"
        "C,shopify,333,,\n"
        "A,nowhere,1,,\n"
        "A,shopify,111,,9\n"
    )
    response = api.post("/api/v1/listings/import/", csv_text, content_type="text/csv")
    assert response.status_code == 200
    report = response.json()
    assert report["summary"] == {"matched": 1, "skipped": 1, "rejected": 3}
    assert [row["line"] for row in report["rejected"]] == [3, 4, 5]
    listing = Listing.objects.get(sku__code="A", channel__slug="shopify")
    assert (listing.external_id, listing.external_location_id, listing.state) == (
        "111",
        "9",
        "pending",
    )
    exported = api.get("/api/v1/listings/export/").content.decode()
    assert "A,shopify,111,,9" in exported


def test_api_requires_a_token(anonymous_api):
    response = anonymous_api.get("/api/v1/channels/")
    assert response.status_code in (401, 403)
    assert response.json()["error"] in ("not_authenticated", "authentication_failed")


def test_pending_outbox_rows_are_visible_and_coalesce(api):
    create_channel(api, "shop", allocation={"mode": "pool", "buffer_units": 1})
    api.post("/api/v1/skus/", {"code": "A"}, format="json")
    for _ in range(3):
        api.post(
            "/api/v1/movements/", {"sku": "A", "kind": "receipt", "quantity": 2}, format="json"
        )
    rows = api.get("/api/v1/outbox/?channel=shop&sku=a").json()["results"]
    assert [(row["sku"], row["quantity"], row["status"]) for row in rows] == [("A", 5, "pending")]
    assert api.get("/api/v1/outbox/?status=confirmed").json()["count"] == 0
