"""eBay's ORDER_CONFIRMATION as documented, replayed against the verifier and the parser.

The public key is fetched over loopback HTTP with an application token minted by the
client-credentials grant, as eBay's notification SDK does (see ebay/SOURCES.md)."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from channels.webhooks.errors import SignatureInvalid
from channels.webhooks.events import OrderEvent
from channels.webhooks.parse import parse_events
from channels.webhooks.verify import clear_ebay_key_cache, verify_delivery

from .ebay_server import EbayDocuments
from .support import document, document_bytes

BODY = document_bytes("ebay", "order_confirmation.json")
HEADERS = document("ebay", "order_confirmation.headers.json")
NOW = datetime(2026, 11, 30, 9, 41, 8, tzinfo=UTC)


@pytest.fixture
def ebay() -> Iterator[EbayDocuments]:
    clear_ebay_key_cache()
    with EbayDocuments() as server:
        yield server
    clear_ebay_key_cache()


def settings_for(server: EbayDocuments) -> dict[str, str]:
    return {
        "base_url": server.url,
        "notification_key_url": f"{server.url}/commerce/notification/v1/public_key/{{kid}}",
        "client_id": "HubTest-Inventor-PRD-0a1b2c3d4-5e6f7a8b",
        "client_secret": "PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b",
    }


def verify(server: EbayDocuments, body: bytes = BODY):
    return verify_delivery(
        "ebay",
        body=body,
        headers=HEADERS,
        method="POST",
        query={},
        secrets=[],
        settings=settings_for(server),
        now=NOW,
    )


def test_the_documented_notification_verifies_with_a_key_read_by_an_application_token(ebay):
    delivery = verify(ebay)
    verify(ebay)  # the key (and the token) are cached

    assert delivery.topic == "ORDER_CONFIRMATION"
    grant, key_read = ebay.requests
    assert (grant["method"], grant["path"]) == ("POST", "/identity/v1/oauth2/token")
    pair = base64.b64decode(grant["headers"]["authorization"].removeprefix("Basic ")).decode()
    assert pair == "HubTest-Inventor-PRD-0a1b2c3d4-5e6f7a8b:PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b"
    assert parse_qs(grant["body"].decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["https://api.ebay.com/oauth/api_scope"],
    }
    token = document("ebay", "oauth_client_credentials_success.json")["access_token"]
    assert key_read["headers"]["authorization"] == f"Bearer {token}"


def test_a_configured_application_token_is_used_as_it_is(ebay):
    settings = {**settings_for(ebay), "application_token": "v^1.1#configured"}

    verify_delivery(
        "ebay",
        body=BODY,
        headers=HEADERS,
        method="POST",
        query={},
        secrets=[],
        settings=settings,
        now=NOW,
    )

    [key_read] = ebay.requests
    assert key_read["headers"]["authorization"] == "Bearer v^1.1#configured"


def test_a_changed_body_does_not_verify(ebay):
    with pytest.raises(SignatureInvalid):
        verify(ebay, BODY.replace(b"07-13982-55102", b"07-13982-55103"))


def test_the_notification_names_the_order_only(ebay):
    delivery = verify(ebay)

    [event] = parse_events("ebay", delivery.topic, delivery.payload)

    assert event == OrderEvent(
        kind="placed",
        order_id="07-13982-55102",
        lines=(),
        occurred_at=datetime(2026, 11, 30, 9, 41, 7, 215000, tzinfo=UTC),
        lines_to_fetch=True,
    )
