"""Production settings and the admin's handling of secrets."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from channels.services import channel_create

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret_key(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "INVENTORY_HUB_VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # a test-only escape hatch
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("5,5,5", True), ("1.5", True), ("", False), ("30,soon", False), ("30,-1", False)],
)
def test_the_retry_schedule_comes_from_the_environment_or_the_start_fails_clearly(
    tmp_path, raw, ok
):
    env = {
        **os.environ,
        "OUTBOX_RETRY_SCHEDULE_SECONDS": raw,
        "INVENTORY_HUB_VAR_DIR": str(tmp_path),
    }
    code = "from django.conf import settings; print(settings.OUTBOX_RETRY_SCHEDULE_SECONDS)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(str([float(w) for w in raw.split(",")]))
    else:
        assert result.returncode != 0
        assert (
            "OUTBOX_RETRY_SCHEDULE_SECONDS" in result.stderr and "comma separated" in result.stderr
        )


@pytest.mark.django_db
def test_the_admin_never_shows_a_channel_secret(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)
    channel = channel_create(
        slug="shop",
        kind="shopify",
        name="Shop",
        webhook_secret="super-secret-value-1234",
        credentials={"access_token": "shpat_very_secret_9876"},
    )
    for url in ("/admin/channels/channel/", f"/admin/channels/channel/{channel.pk}/change/"):
        page = client.get(url).content.decode()
        assert "super-secret-value" not in page
        assert "shpat_very_secret" not in page
    assert "1234" in client.get(f"/admin/channels/channel/{channel.pk}/change/").content.decode()
