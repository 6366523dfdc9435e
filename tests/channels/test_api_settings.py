"""A channel's settings over the API: secrets sent among them are write-only (kept
encrypted with the credentials, never in a response, a page or the audit log), PATCH
merges key by key, PUT replaces, and a refused change writes nothing."""

import hashlib
import json

import httpx
import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.health import channel_connection_test
from channels.models import Channel, ChannelAudit
from channels.webhooks.verify import clear_ebay_key_cache
from ledger.services import sku_create, stock_receive
from tests.factories import role_user

pytestmark = pytest.mark.django_db

APP_TOKEN = "v^1.1#i^1#app-token-7f3c9a2e4b1d"
VERIFY_TOKEN = "verify-" + "k3y" * 12
USER_TOKEN = "v^1.1#i^1#user-token-55aa77cc99ee"
SECRETS = (APP_TOKEN, VERIFY_TOKEN, USER_TOKEN)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def create_ebay(api, **settings):
    body = {
        "slug": "bay",
        "kind": "ebay",
        "name": "Bay",
        "credentials": {"access_token": USER_TOKEN},
        "settings": {
            "base_url": "https://api.ebay.example.com",
            "marketplace_id": "EBAY_US",
            "timeout_seconds": 5,
            "application_token": APP_TOKEN,
            "verification_token": VERIFY_TOKEN,
            **settings,
        },
    }
    return api.post("/api/v1/channels/", body, format="json")


def row() -> tuple:
    """The channel's stored row, as the database holds it (credentials encrypted)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT settings, credentials, updated_at FROM {Channel._meta.db_table}")
        return cursor.fetchone()


def as_role(role: str) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=role_user(role))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# --- secrets are write-only -------------------------------------------------------------


def test_secrets_sent_in_settings_never_come_back_from_any_answer(api):
    created = create_ebay(api)
    assert created.status_code == 201, created.content
    answers = [
        created,
        api.get("/api/v1/channels/"),
        api.get("/api/v1/channels/bay/"),
        api.patch("/api/v1/channels/bay/", {"settings": {"content_language": "en-GB"}}, "json"),
        api.put(
            "/api/v1/channels/bay/",
            {
                "name": "Bay",
                "enabled": True,
                "settings": api.get("/api/v1/channels/bay/").json()["settings"],
            },
            format="json",
        ),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.content
        assert_no_secret(answer.content.decode())
    body = answers[-1].json()
    assert "application_token" not in body["settings"]
    assert "verification_token" not in body["settings"]
    # The indication that they are set: their names in credentials_hint, with a hint.
    assert body["credentials_hint"] == {
        "access_token": "••••99ee",
        "application_token": "••••4b1d",
        "verification_token": "••••" + VERIFY_TOKEN[-4:],
    }
    channel = Channel.objects.get()
    assert channel.credentials["application_token"] == APP_TOKEN
    assert channel.credentials["verification_token"] == VERIFY_TOKEN
    settings, credentials, _ = row()
    assert_no_secret(json.dumps(settings) if not isinstance(settings, str) else settings)
    assert_no_secret(credentials)  # Fernet-encrypted at rest


def test_the_schema_documents_the_write_only_settings(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    shown = components["ChannelOutput"]["properties"]
    assert "Secrets are never here" in shown["settings"]["description"]
    assert "Never the value" in shown["credentials_hint"]["description"]
    patch = components["PatchedChannelUpdate"]["properties"]["settings"]["description"]
    assert "merges key by key" in patch and "application_token" in patch
    put = components["ChannelReplace"]["properties"]["settings"]["description"]
    assert "replaces the whole object" in put


def test_secrets_stay_out_of_the_audit_log_and_the_pages(api):
    create_ebay(api)
    api.patch(
        "/api/v1/channels/bay/",
        {"settings": {"application_token": APP_TOKEN[::-1], "marketplace_id": "EBAY_GB"}},
        format="json",
    )
    for audit in ChannelAudit.objects.all():
        assert_no_secret(audit.message + json.dumps(audit.data))
        assert APP_TOKEN[::-1] not in audit.message + json.dumps(audit.data)
    browser = Client()
    browser.force_login(role_user(None, is_superuser=True, is_staff=True))
    channel = Channel.objects.get()
    for url in (
        "/channels/",
        "/channels/bay/",
        "/channels/bay/edit/",
        f"/admin/channels/channel/{channel.pk}/change/",
    ):
        page = browser.get(url)
        assert page.status_code == 200, url
        assert_no_secret(page.content.decode())
        assert APP_TOKEN[::-1] not in page.content.decode()


def test_a_secret_in_settings_is_the_admins_like_any_credential(api):
    create_ebay(api)
    before = row()
    response = as_role("Merchant").patch(
        "/api/v1/channels/bay/", {"settings": {"application_token": "mine"}}, format="json"
    )
    assert response.status_code == 403
    assert "settings.application_token" in response.json()["message"]
    assert row() == before


def test_a_secret_sent_as_null_in_a_patch_is_removed(api):
    create_ebay(api)
    response = api.patch(
        "/api/v1/channels/bay/", {"settings": {"verification_token": None}}, format="json"
    )
    assert response.status_code == 200
    assert "verification_token" not in response.json()["credentials_hint"]
    channel = Channel.objects.get()
    assert "verification_token" not in channel.credentials
    assert channel.credentials["application_token"] == APP_TOKEN
    assert channel.settings["marketplace_id"] == "EBAY_US"


def test_the_verification_token_still_answers_ebays_challenge_after_updates(api):
    create_ebay(api, endpoint_url="https://hub.example.com/webhooks/bay/")
    api.patch("/api/v1/channels/bay/", {"settings": {"marketplace_id": "EBAY_DE"}}, "json")
    api.put(
        "/api/v1/channels/bay/",
        {
            "name": "Bay",
            "enabled": True,
            "settings": api.get("/api/v1/channels/bay/").json()["settings"],
        },
        format="json",
    )
    answer = Client().get("/webhooks/bay/", {"challenge_code": "abc"})
    assert answer.status_code == 200, answer.content
    expected = hashlib.sha256(
        f"abc{VERIFY_TOKEN}https://hub.example.com/webhooks/bay/".encode()
    ).hexdigest()
    assert answer.json() == {"challengeResponse": expected}
    assert_no_secret(answer.content.decode())


# --- PATCH merges, PUT replaces ---------------------------------------------------------


def test_patch_merges_settings_key_by_key(api):
    create_ebay(api, content_language="en-US", retry_schedule_seconds=[30, 60])
    response = api.patch(
        "/api/v1/channels/bay/",
        {"settings": {"marketplace_id": "EBAY_GB", "content_language": None, "batch_size": 10}},
        format="json",
    )
    assert response.status_code == 200, response.content
    expected = {
        "base_url": "https://api.ebay.example.com",
        "marketplace_id": "EBAY_GB",
        "timeout_seconds": 5,
        "retry_schedule_seconds": [30, 60],
        "batch_size": 10,
    }
    assert response.json()["settings"] == expected
    channel = Channel.objects.get()
    assert channel.settings == expected and channel.batch_size == 10
    assert channel.credentials["application_token"] == APP_TOKEN


def test_a_patch_without_settings_leaves_them_alone(api):
    create_ebay(api)
    before = Channel.objects.get().settings
    assert api.patch("/api/v1/channels/bay/", {"name": "Bay 2"}, format="json").status_code == 200
    assert Channel.objects.get().settings == before


def test_put_replaces_the_settings_but_keeps_the_secrets(api):
    create_ebay(api, content_language="en-US")
    response = api.put(
        "/api/v1/channels/bay/",
        {
            "name": "Bay",
            "enabled": True,
            "settings": {"base_url": "https://api.ebay.example.com", "marketplace_id": "EBAY_FR"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["settings"] == {
        "base_url": "https://api.ebay.example.com",
        "marketplace_id": "EBAY_FR",
    }
    channel = Channel.objects.get()
    assert channel.batch_size == 25  # the kind's default again: timeout and others gone
    assert channel.credentials == {
        "access_token": USER_TOKEN,
        "application_token": APP_TOKEN,
        "verification_token": VERIFY_TOKEN,
    }


# --- refused changes write nothing ------------------------------------------------------

BAD_PATCHES = [
    ({"settings": {"marketplace_idd": "EBAY_GB"}}, "settings.marketplace_idd"),
    ({"settings": {"location_id": "1"}}, "settings.location_id"),  # Shopify's, not eBay's
    ({"settings": {"marketplace_id": "EBAY_GB", "batch_size": 26}}, "settings.batch_size"),
    ({"settings": {"timeout_seconds": None, "retry_schedule_seconds": []}}, "retry_schedule"),
    ({"settings": {"application_token": 12345}}, "settings.application_token"),
    ({"settings": {"application_token": ""}}, "settings.application_token"),
    (
        {"settings": {"application_token": "a"}, "credentials": {"application_token": "b"}},
        "settings.application_token",
    ),
    ({"settings": ["not", "an", "object"]}, "settings"),
    ({"settings": {"x" * 101: 1}}, "settings"),
]


@pytest.mark.parametrize(("body", "named"), BAD_PATCHES, ids=[n for _, n in BAD_PATCHES])
def test_a_bad_patch_is_a_400_naming_the_key_and_writes_nothing(api, body, named):
    create_ebay(api)
    before, audits = row(), ChannelAudit.objects.count()
    response = api.patch("/api/v1/channels/bay/", body, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["error"] in ("invalid_channel", "invalid") and answer["message"]
    assert named in answer["message"] or named in json.dumps(answer["detail"])
    assert_no_secret(response.content.decode())
    assert row() == before
    assert ChannelAudit.objects.count() == audits


@pytest.mark.parametrize(
    "body",
    [
        {"enabled": True, "settings": {}},  # no name
        {"name": "Bay", "settings": {}},  # no enabled
        {"name": "Bay", "enabled": True},  # no settings
        {"name": "Bay", "enabled": True, "settings": {"nope": 1}},
    ],
)
def test_a_bad_put_is_a_400_and_writes_nothing(api, body):
    create_ebay(api)
    before = row()
    response = api.put("/api/v1/channels/bay/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["message"]
    assert row() == before


def test_an_unknown_setting_is_refused_on_create(api):
    response = create_ebay(api, sku_prefix="X")
    assert response.status_code == 400
    assert "settings.sku_prefix" in response.json()["message"]
    assert not Channel.objects.exists()


def test_a_setting_stored_before_the_list_existed_may_stay(api):
    create_ebay(api)
    Channel.objects.update(settings={**Channel.objects.get().settings, "legacy": 1})
    response = api.patch("/api/v1/channels/bay/", {"settings": {"marketplace_id": "X"}}, "json")
    assert response.status_code == 200
    assert Channel.objects.get().settings["legacy"] == 1


# --- the secrets still work, over HTTP against the simulator ----------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_after_updates_the_adapter_and_the_key_fetch_use_the_stored_tokens(
    sim, live_server, settings, api
):
    """Two simulated eBay stores, each accepting only its own token: "bay" serves the
    Sell API the adapter reads with the user token (credentials); "keys" serves the
    public key and sends the signed notification, whose key the hub fetches with the
    application token (sent among the settings, kept encrypted). Both still work after a
    PATCH and a PUT of the settings, over real HTTP."""
    settings.SECURE_SSL_REDIRECT = False
    # A slug of its own: the intake keeps a per-process copy of each channel it has seen
    # (channels.intake.verify), and other tests here use "bay".
    clear_ebay_key_cache()
    sku_create(code="MUG")
    stock_receive(sku=sku_create(code="CUP"), quantity=5)
    bay = sim.create_store(
        "ebay", "bay", levels={"MUG": 4, "CUP": 5}, credentials={"access_token": USER_TOKEN}
    )
    keys = sim.create_store(
        "ebay",
        "keys",
        levels={"MUG": 4},
        webhook_url=f"{live_server.url}/webhooks/bay-live/",
        credentials={"access_token": APP_TOKEN},
    )
    created = api.post(
        "/api/v1/channels/",
        {
            "slug": "bay-live",
            "kind": "ebay",
            "name": "Bay",
            "credentials": {"access_token": USER_TOKEN},
            "settings": {
                "base_url": bay["base_url"],
                "notification_key_url": keys["channel"]["settings"]["notification_key_url"],
                "application_token": APP_TOKEN,
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    patched = api.patch(
        "/api/v1/channels/bay-live/", {"settings": {"marketplace_id": "EBAY_US"}}, format="json"
    )
    assert patched.status_code == 200, patched.content
    shown = patched.json()["settings"]
    assert shown["marketplace_id"] == "EBAY_US" and "application_token" not in shown
    replaced = api.put(
        "/api/v1/channels/bay-live/",
        {"name": "Bay", "enabled": True, "settings": {**shown, "content_language": "en-US"}},
        format="json",
    )
    assert replaced.status_code == 200, replaced.content
    for answer in (created, patched, replaced):
        assert_no_secret(answer.content.decode())

    test = channel_connection_test(channel=Channel.objects.get())
    assert test["ok"], test["message"]
    assert test["levels"] == {"CUP": 5, "MUG": 4}

    sent = sim.place_order("keys", [{"sku": "MUG", "quantity": 1}])
    statuses = [delivery["status"] for delivery in sent["deliveries"]]
    assert statuses and set(statuses) == {200}, sent["deliveries"][0].get("response")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_corrected_application_token_applies_to_the_next_delivery(
    sim, live_server, settings, api
):
    """The intake keeps a copy of each channel per process: a key fetch refused with the
    copy's token (503) is tried again with the channel as it is now, so fixing the token
    needs no restart."""
    settings.SECURE_SSL_REDIRECT = False
    clear_ebay_key_cache()
    sku_create(code="MUG")
    keys = sim.create_store(
        "ebay",
        "keys",
        levels={"MUG": 4},
        webhook_url=f"{live_server.url}/webhooks/bay-fix/",
        credentials={"access_token": APP_TOKEN},
    )
    created = api.post(
        "/api/v1/channels/",
        {
            "slug": "bay-fix",
            "kind": "ebay",
            "name": "Bay",
            "credentials": {"access_token": USER_TOKEN},
            "settings": {
                "base_url": keys["base_url"],
                "notification_key_url": keys["channel"]["settings"]["notification_key_url"],
                "application_token": "v^1.1#i^1#a-token-the-key-service-refuses",
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.content

    def delivered() -> set[int]:
        sent = sim.place_order("keys", [{"sku": "MUG", "quantity": 1}])
        return {delivery["status"] for delivery in sent["deliveries"]}

    assert delivered() == {503}  # this process now holds a copy with the refused token
    fixed = api.patch(
        "/api/v1/channels/bay-fix/", {"settings": {"application_token": APP_TOKEN}}, "json"
    )
    assert fixed.status_code == 200, fixed.content
    assert delivered() == {200}


def test_the_challenge_is_answered_with_the_verification_token_as_it_is_now(api):
    create_ebay(api, endpoint_url="https://hub.example.com/webhooks/bay/")
    assert Client().get("/webhooks/bay/", {"challenge_code": "abc"}).status_code == 200
    new_token = "verify-" + "n3w" * 12
    api.patch("/api/v1/channels/bay/", {"settings": {"verification_token": new_token}}, "json")
    answer = Client().get("/webhooks/bay/", {"challenge_code": "abc"})
    expected = hashlib.sha256(
        f"abc{new_token}https://hub.example.com/webhooks/bay/".encode()
    ).hexdigest()
    assert answer.json() == {"challengeResponse": expected}


def test_without_the_application_token_the_key_fetch_is_refused(sim, settings):
    """The control for the test above: the "keys" store refuses the user token, so a
    verified notification there proves the application token was the one sent."""

    keys = sim.create_store("ebay", "keys", credentials={"access_token": APP_TOKEN})
    url = keys["channel"]["settings"]["notification_key_url"].replace("{kid}", "any")
    refused = httpx.get(url, headers={"Authorization": f"Bearer {USER_TOKEN}"})
    assert refused.status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {APP_TOKEN}"}).status_code == 404


def test_patch_merges_credentials_unless_the_channel_moves(api):
    create_ebay(api)
    fresh_user_token = "v^1.1#i^1#user-token-renewed-0042"
    patched = api.patch(
        "/api/v1/channels/bay/", {"credentials": {"access_token": fresh_user_token}}, "json"
    )
    assert patched.status_code == 200, patched.content
    stored = Channel.objects.get().credentials
    assert stored["access_token"] == fresh_user_token
    assert stored["application_token"] == APP_TOKEN  # not sent: kept
    api.patch("/api/v1/channels/bay/", {"credentials": {"verification_token": None}}, "json")
    assert "verification_token" not in Channel.objects.get().credentials

    # A new address keeps only what was sent with it.
    moved = api.patch(
        "/api/v1/channels/bay/",
        {
            "settings": {"base_url": "https://api.ebay-other.example.com"},
            "credentials": {"access_token": USER_TOKEN},
        },
        "json",
    )
    assert moved.status_code == 200, moved.content
    assert Channel.objects.get().credentials == {"access_token": USER_TOKEN}


def test_a_patch_with_credentials_that_are_not_an_object_is_a_400_and_writes_nothing(api):
    create_ebay(api)
    before = row()
    refused = api.patch("/api/v1/channels/bay/", {"credentials": ["access_token"]}, "json")
    assert refused.status_code == 400
    assert row() == before
