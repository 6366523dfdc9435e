"""0009 moves secrets kept in a channel's plain settings into its encrypted credentials."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from channels.models import Channel
from channels.services import channel_create

pytestmark = pytest.mark.django_db

migration = importlib.import_module("channels.migrations.0009_secrets_out_of_settings")


def stored_settings(slug: str, settings: dict) -> None:
    """Settings as an older hub wrote them: straight into the plain JSON column."""
    Channel.objects.filter(slug=slug).update(settings=settings)


def test_secrets_in_settings_move_to_the_encrypted_credentials():
    channel_create(slug="bay", kind="ebay", name="Bay", credentials={"access_token": "user-1"})
    channel_create(slug="shop", kind="shopify", name="Shop", settings={"location_id": "1"})
    stored_settings(
        "bay",
        {
            "marketplace_id": "EBAY_US",
            "application_token": "app-secret-1",
            "verification_token": "verify-secret-1",
            "access_token": "stale-copy",  # the credentials' own value wins
            "lwa_token_url": "https://example.com/token",  # an address, not a secret
        },
    )
    before = Channel.objects.get(slug="bay").updated_at

    migration.secrets_to_credentials(apps, None)

    bay = Channel.objects.get(slug="bay")
    assert bay.settings == {
        "marketplace_id": "EBAY_US",
        "lwa_token_url": "https://example.com/token",
    }
    assert bay.credentials == {
        "access_token": "user-1",
        "application_token": "app-secret-1",
        "verification_token": "verify-secret-1",
    }
    assert bay.updated_at > before  # the intake reads the channel again
    assert Channel.objects.get(slug="shop").settings == {"location_id": "1"}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT settings, credentials FROM {Channel._meta.db_table}")
        raw = repr(cursor.fetchall())
    assert "secret-1" not in raw and "stale-copy" not in raw
