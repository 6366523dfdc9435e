"""Secrets at rest: Fernet (cryptography) keyed by FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY may hold several comma-separated keys: the first encrypts, all
decrypt, so keys can be rotated without a migration window.
"""

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def encrypt(text: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY changed without "
            "keeping the old key (list old keys after the new one, comma-separated)."
        ) from exc


# A secret shorter than this shows none of its characters: four of a short one (a
# WooCommerce consumer secret typed by hand, a demo token) would be too much of it.
MASK_SHOWS_FROM = 20


def masked(secret: str) -> str:
    """What a person may see of a secret: its last four characters at most, and none of
    a secret shorter than MASK_SHOWS_FROM (at most a fifth of any secret shows)."""
    if not secret:
        return ""
    return "••••" + secret[-4:] if len(secret) >= MASK_SHOWS_FROM else "••••"


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads and writes plain text in Python."""

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)


class EncryptedJSONField(EncryptedTextField):
    """A JSON object stored encrypted (channel credentials)."""

    def from_db_value(self, value, expression, connection):
        text = super().from_db_value(value, expression, connection)
        return json.loads(text) if text else {}

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        return json.loads(value) if value else {}

    def get_prep_value(self, value):
        if isinstance(value, str):
            value = json.loads(value) if value else {}
        return encrypt(json.dumps(value or {}, sort_keys=True))
