"""eBay's identity service: the two OAuth grants the hub uses, as wire data only.

The callers make the HTTP request themselves (the adapter through its ``_send``, the
notification verifier with its own short timeout); this module says what to send and
reads what comes back. Source: "Using a refresh token to update a User access token"
(https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html) and
"Client credentials grant request"
(https://developer.ebay.com/api-docs/static/oauth-client-credentials-grant.html):
``POST {api host}/identity/v1/oauth2/token``, form-encoded, ``Authorization: Basic
base64(client_id:client_secret)``; the answer is JSON ``{access_token, expires_in,
token_type}``. A refused refresh token answers 400 ``{"error": "invalid_grant",
"error_description": ...}`` (eBay knowledge base article 5218,
https://developer.ebay.com/support/kb-article?KBid=5218).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TOKEN_PATH = "identity/v1/oauth2/token"
DEFAULT_API_URL = "https://api.ebay.com"
# The scope eBay's own notification SDK asks for when it mints the application token
# that reads public keys (eBay/event-notification-nodejs-sdk lib/constants.js).
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
# Renew this long before eBay's expiry: a request that starts with a token about to
# expire must not arrive with an expired one.
RENEW_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_at: datetime


class GrantRefused(Exception):
    """eBay's identity service refused the grant (``error`` is its OAuth error code:
    ``invalid_grant`` for a revoked or expired refresh token, ``invalid_client`` for a
    wrong client id or secret)."""

    def __init__(self, message: str, *, error: str, status_code: int) -> None:
        super().__init__(message)
        self.error = error
        self.status_code = status_code


def token_url(base_url: str | None) -> str:
    """The identity endpoint on the same host as the channel's API (production
    ``api.ebay.com``, sandbox ``api.sandbox.ebay.com``)."""
    return f"{(base_url or DEFAULT_API_URL).rstrip('/')}/{TOKEN_PATH}"


def token_headers(client_id: str, client_secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    return {
        "Authorization": f"Basic {pair}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }


def refresh_form(refresh_token: str, scopes: str = "") -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    # Without scope the new token carries the scopes the seller consented to (RFC 6749
    # section 6); a configured list must be those or fewer.
    if scopes:
        form["scope"] = scopes
    return form


def application_form(scope: str = APPLICATION_SCOPE) -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": scope}


def grant_from_answer(status_code: int, body: Any, *, now: datetime) -> Grant:
    """The token in a 200 answer; GrantRefused for eBay's OAuth error answers; ValueError
    for anything else (not JSON, fields missing)."""
    if status_code != 200:
        error = body.get("error") if isinstance(body, Mapping) else None
        description = body.get("error_description") if isinstance(body, Mapping) else None
        if isinstance(error, str) and error:
            message = f"eBay's identity service refused the grant: {error}"
            if isinstance(description, str) and description:
                message = f"{message} ({description[:200]})"
            raise GrantRefused(message, error=error, status_code=status_code)
        raise ValueError(f"eBay's identity service answered HTTP {status_code}")
    if not isinstance(body, Mapping):
        raise ValueError("eBay's token answer is not a JSON object")
    token, lifetime = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token:
        raise ValueError("eBay's token answer has no access_token")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        raise ValueError("eBay's token answer has no positive expires_in")
    return Grant(access_token=token, expires_at=now + timedelta(seconds=lifetime))


def still_good(expires_at: datetime | None, *, now: datetime) -> bool:
    return expires_at is not None and now + RENEW_MARGIN < expires_at
