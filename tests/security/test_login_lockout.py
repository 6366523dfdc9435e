"""Guessing passwords locks the username out from that address, on the login page and the admin."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F

from tests.factories import UserFactory

PASSWORD = "correct horse battery"


@pytest.fixture
def merchant(db):
    return UserFactory(username="locky", password=PASSWORD)


def log_in(client, password, path="/accounts/login/"):
    return client.post(path, {"username": "locky", "password": password})


def test_the_default_limit_and_cool_off_come_from_the_environment():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_five_wrong_passwords_lock_the_login_and_the_right_one_waits_for_the_cool_off(
    client, merchant
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form, with its error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert b"Login locked" in locked.content
    assert b"15 minutes" in locked.content

    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session

    # The cool-off passes (every attempt, moved back beyond it).
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    welcomed = log_in(client, PASSWORD)
    assert welcomed.status_code == 302
    assert client.session["_auth_user_id"] == str(merchant.pk)


def test_the_lock_is_per_address(client, merchant):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 429
    elsewhere = client.post(
        "/accounts/login/",
        {"username": "locky", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.8",
    )
    assert elsewhere.status_code == 302


def test_the_admin_login_is_locked_the_same_way(client, merchant):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = log_in(client, "wrong", path="/admin/login/")
    assert response.status_code == 429
    assert log_in(client, PASSWORD, path="/admin/login/").status_code == 429


def test_a_good_login_clears_earlier_failures(client, merchant):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200


def test_a_login_without_a_request_still_checks_the_password(merchant, client):
    # Shells, management commands and the test client's login() pass no request.
    assert client.login(username="locky", password=PASSWORD)
    assert not client.login(username="locky", password="wrong")
