"""What a channel's ``settings`` may hold: the keys each kind reads, and the ones that
are secrets.

Settings are plain JSON (the API returns them, the admin and the dashboard show them);
secrets are not settings. A secret a client sends inside ``settings`` (eBay's
``application_token`` and ``verification_token``, an access token, a client secret...)
is stored with the channel's Fernet-encrypted ``credentials`` instead, where the adapters
and the intake read it (``channels.intake.verify._secret_settings``), and only its name
is ever shown again (``credentials_hint``). The adapters (``channels/adapters/<kind>.py``),
the eBay verifier and the SQS poll are the authority for these lists.
"""

from __future__ import annotations

import re
from typing import Any

from .models import ChannelKind

# Read for every kind (the drainer, the reconcile, the health check, the channel's limits).
COMMON_SETTINGS = frozenset(
    {
        "base_url",
        "batch_size",
        "compare_and_set",
        "rate_limit_per_second",
        "rate_limit_burst",
        "reconcile_interval_minutes",
        "timeout_seconds",
        "claim_lease_seconds",
        "retry_schedule_seconds",
        "revisions_per_listing_per_day",
    }
)

KIND_SETTINGS: dict[str, frozenset[str]] = {
    ChannelKind.SHOPIFY: frozenset({"location_id", "api_version", "shop_domain"}),
    ChannelKind.WOOCOMMERCE: frozenset({"api_path", "auth"}),
    ChannelKind.AMAZON: frozenset(
        {
            "seller_id",
            "marketplace_id",
            "product_type",
            "fulfillment_channel_code",
            "issue_locale",
            "lwa_token_url",
            "sqs_queue_url",
            "sqs_endpoint_url",
            "sqs_region",
            "feed_threshold",
            "feed_poll_seconds",
            "feed_timeout_seconds",
            "search_threshold",
            "search_page_size",
        }
    ),
    ChannelKind.EBAY: frozenset(
        {"marketplace_id", "content_language", "notification_key_url", "endpoint_url"}
    ),
    ChannelKind.STANDARD: frozenset({"push_url"}),
    ChannelKind.SANDBOX: frozenset({"push_url"}),
}

# Settings that take one of a few words: kind -> name -> the words.
CHOICE_SETTINGS: dict[str, dict[str, tuple[str, ...]]] = {
    # How the consumer key and secret travel: the Authorization header, or the query
    # string for hosts that strip that header (channels/adapters/woocommerce.py).
    ChannelKind.WOOCOMMERCE: {"auth": ("header", "query")},
}

# Secrets a client may send inside settings (as some kinds' documentation names them):
# each goes to the encrypted credentials under the same name. Every kind's credential
# names are here too, so a token put in the wrong object is kept secret all the same.
SECRET_SETTINGS = frozenset(
    {
        # eBay: the key lookup's OAuth application token, the endpoint validation token,
        # the Sell API's user token.
        "application_token",
        "verification_token",
        "access_token",
        # Amazon (Login with Amazon, SQS), WooCommerce, Standard Webhooks.
        "refresh_token",
        "client_secret",
        "lwa_client_secret",
        "aws_secret_access_key",
        "aws_session_token",
        "consumer_key",
        "consumer_secret",
        "push_secret",
        "webhook_secret",
    }
)

# Names that look like secrets whatever the kind: never shown, even if an older row holds
# one in its settings (an address such as ``lwa_token_url`` is not one).
_SECRET_NAME = re.compile(r"(secret|token|password|passwd|api_?key|private_?key)", re.I)


def is_secret_setting(name: str) -> bool:
    return name in SECRET_SETTINGS or (
        bool(_SECRET_NAME.search(name)) and not name.endswith(("_url", "_uri"))
    )


# Besides those names, the conventions of credentials in a URL's query (`?key=`,
# `?sig=`, `?auth=`): an address carrying one is refused (channels.services.channel).
_CREDENTIAL_PARAMETER = re.compile(r"key|sig|auth", re.I)


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter's name says it carries a credential."""
    return bool(_SECRET_NAME.search(name) or _CREDENTIAL_PARAMETER.search(name))


def known_settings(kind: str) -> frozenset[str]:
    return COMMON_SETTINGS | KIND_SETTINGS.get(kind, frozenset())


def split_secrets(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain settings, secrets) of what a client sent as settings."""
    plain = {k: v for k, v in settings.items() if not is_secret_setting(k)}
    secrets = {k: v for k, v in settings.items() if is_secret_setting(k)}
    return plain, secrets


def shown_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Settings as anyone may see them: without a secret, even one an older row holds."""
    return {k: v for k, v in (settings or {}).items() if not is_secret_setting(k)}
