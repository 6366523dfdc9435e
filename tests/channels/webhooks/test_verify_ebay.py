"""eBay Notification API: endpoint validation, and ECDSA signatures checked against public
keys fetched over real HTTP from a loopback stand-in for eBay's key service."""

import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from channels.webhooks.errors import MalformedDelivery, SignatureInvalid, VerificationUnavailable
from channels.webhooks.signing import sign_ebay
from channels.webhooks.verify import EBAY_KEY_TTL, clear_ebay_key_cache

from .support import NOW, EbayKeyServer, fixture_body, flip_byte, verify

KID = "9936261a-7d7b-4621-a0f1-96ccb428af49"
BODY = fixture_body("ebay/order_confirmation.json")
# eBay signs compact JSON (its SDK verifies JSON.stringify of the parsed body).
COMPACT = json.dumps(json.loads(BODY), separators=(",", ":")).encode()


@pytest.fixture
def key_server(
    ebay_key_server: EbayKeyServer, ebay_private_key: ec.EllipticCurvePrivateKey
) -> Iterator[EbayKeyServer]:
    ebay_key_server.reset()
    ebay_key_server.add_key(KID, ebay_private_key)
    clear_ebay_key_cache()
    yield ebay_key_server
    clear_ebay_key_cache()


@pytest.fixture
def ebay_settings(key_server: EbayKeyServer) -> dict[str, Any]:
    return {"notification_key_url": key_server.url_template, "application_token": "v^1.1#i^1#app"}


def test_endpoint_validation_answers_the_challenge() -> None:
    challenge_settings = {
        "verification_token": "tok_" + "a" * 36,
        "endpoint_url": "https://hub.example.com/webhooks/ebay-main/",
    }

    delivery = verify(
        "ebay",
        b"",
        {},
        method="GET",
        query={"challenge_code": "a8628072-3d33-45ee-9004"},
        settings=challenge_settings,
    )

    expected = hashlib.sha256(
        b"a8628072-3d33-45ee-9004"
        + b"tok_"
        + b"a" * 36
        + b"https://hub.example.com/webhooks/ebay-main/"
    ).hexdigest()
    assert delivery.challenge_response == {"challengeResponse": expected}


def test_endpoint_validation_without_a_code_is_malformed() -> None:
    with pytest.raises(MalformedDelivery, match="challenge_code"):
        verify(
            "ebay", b"", {}, method="GET", settings={"verification_token": "t", "endpoint_url": "u"}
        )


def test_endpoint_validation_without_settings_is_our_problem() -> None:
    with pytest.raises(VerificationUnavailable, match="verification_token"):
        verify("ebay", b"", {}, method="GET", query={"challenge_code": "abc"})


@pytest.mark.parametrize("digest", ["SHA1", "SHA256"])
def test_signed_notification_verifies(
    ebay_settings: dict[str, Any], ebay_private_key: ec.EllipticCurvePrivateKey, digest: str
) -> None:
    headers = sign_ebay(COMPACT, ebay_private_key, kid=KID, digest=digest)

    delivery = verify("ebay", COMPACT, headers, settings=ebay_settings, secrets=[])

    assert delivery.topic == "ORDER_CONFIRMATION"
    assert delivery.dedupe_key.startswith("6f1c2a9e-41d8-4a77")
    assert delivery.source_timestamp is not None
    assert delivery.source_timestamp.isoformat() == "2025-12-02T18:04:31.512000+00:00"
    assert "x-ebay-signature" not in delivery.kept_headers


def test_key_fetch_sends_the_application_token(
    key_server: EbayKeyServer,
    ebay_settings: dict[str, Any],
    ebay_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    verify("ebay", COMPACT, sign_ebay(COMPACT, ebay_private_key, kid=KID), settings=ebay_settings)

    assert key_server.requests == [(EbayKeyServer.PREFIX + KID, "Bearer v^1.1#i^1#app")]


def test_public_key_is_cached_by_kid_until_its_ttl(
    key_server: EbayKeyServer,
    ebay_settings: dict[str, Any],
    ebay_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    headers = sign_ebay(COMPACT, ebay_private_key, kid=KID)

    verify("ebay", COMPACT, headers, settings=ebay_settings)
    verify(
        "ebay",
        COMPACT,
        headers,
        settings=ebay_settings,
        now=NOW + EBAY_KEY_TTL - timedelta(seconds=1),
    )
    assert len(key_server.requests) == 1

    verify("ebay", COMPACT, headers, settings=ebay_settings, now=NOW + EBAY_KEY_TTL)
    assert len(key_server.requests) == 2


def test_multi_line_pem_is_accepted_too(
    key_server: EbayKeyServer,
    ebay_settings: dict[str, Any],
    ebay_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    key_server.add_key(KID, ebay_private_key, one_line=False)

    assert verify(
        "ebay", COMPACT, sign_ebay(COMPACT, ebay_private_key, kid=KID), settings=ebay_settings
    ).topic


def test_reformatted_body_still_verifies_against_its_compact_json(
    ebay_settings: dict[str, Any], ebay_private_key: ec.EllipticCurvePrivateKey
) -> None:
    # The fixture file is pretty-printed; eBay signed the compact form of the same JSON.
    headers = sign_ebay(COMPACT, ebay_private_key, kid=KID)

    assert verify("ebay", BODY, headers, settings=ebay_settings).topic == "ORDER_CONFIRMATION"


def test_tampered_byte_is_rejected(
    ebay_settings: dict[str, Any], ebay_private_key: ec.EllipticCurvePrivateKey
) -> None:
    headers = sign_ebay(COMPACT, ebay_private_key, kid=KID)
    tampered = COMPACT.replace(b'"quantity":1', b'"quantity":9')

    with pytest.raises(SignatureInvalid, match="does not match"):
        verify("ebay", tampered, headers, settings=ebay_settings)
    with pytest.raises(SignatureInvalid):
        verify("ebay", flip_byte(COMPACT, 3), headers, settings=ebay_settings)


def test_signature_from_another_key_is_rejected(ebay_settings: dict[str, Any]) -> None:
    impostor = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(SignatureInvalid):
        verify("ebay", COMPACT, sign_ebay(COMPACT, impostor, kid=KID), settings=ebay_settings)


def test_unknown_kid_is_rejected(
    ebay_settings: dict[str, Any], ebay_private_key: ec.EllipticCurvePrivateKey
) -> None:
    headers = sign_ebay(COMPACT, ebay_private_key, kid="00000000-dead-beef-0000-000000000000")

    with pytest.raises(SignatureInvalid, match="does not know"):
        verify("ebay", COMPACT, headers, settings=ebay_settings)


def test_missing_signature_header_is_rejected(ebay_settings: dict[str, Any]) -> None:
    with pytest.raises(SignatureInvalid, match="missing X-EBAY-SIGNATURE"):
        verify("ebay", COMPACT, {"Content-Type": "application/json"}, settings=ebay_settings)


def _header(claim: dict[str, Any]) -> dict[str, str]:
    return {"X-EBAY-SIGNATURE": base64.b64encode(json.dumps(claim).encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ({"X-EBAY-SIGNATURE": "%%%"}, "base64 JSON"),
        ({"X-EBAY-SIGNATURE": base64.b64encode(b"[1]").decode()}, "base64 JSON"),
        (_header({"alg": "rsa", "kid": KID, "signature": "AA==", "digest": "SHA1"}), "not ecdsa"),
        (
            _header({"alg": "ecdsa", "kid": KID, "signature": "AA==", "digest": "MD5"}),
            "SHA1 or SHA256",
        ),
        (
            _header({"alg": "ecdsa", "kid": "../admin", "signature": "!!", "digest": "SHA1"}),
            "not base64",
        ),
        (_header({"alg": "ecdsa", "kid": "k i d", "signature": "AA==", "digest": "SHA1"}), "kid"),
    ],
)
def test_unreadable_signature_header_is_rejected(
    ebay_settings: dict[str, Any], headers: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SignatureInvalid, match=complaint):
        verify("ebay", COMPACT, headers, settings=ebay_settings)


def test_key_service_failure_asks_ebay_to_retry(
    key_server: EbayKeyServer,
    ebay_settings: dict[str, Any],
    ebay_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    key_server.status = 500

    with pytest.raises(VerificationUnavailable, match="HTTP 500") as caught:
        verify(
            "ebay", COMPACT, sign_ebay(COMPACT, ebay_private_key, kid=KID), settings=ebay_settings
        )

    assert caught.value.status_code == 503


def test_unreachable_key_service_asks_ebay_to_retry(
    ebay_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/public_key/{{kid}}"

    with pytest.raises(VerificationUnavailable, match="could not fetch"):
        verify(
            "ebay",
            COMPACT,
            sign_ebay(COMPACT, ebay_private_key, kid=KID),
            settings={"notification_key_url": url},
        )


def test_signed_body_without_notification_id_is_malformed(
    ebay_settings: dict[str, Any], ebay_private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = b'{"metadata":{"topic":"ORDER_CONFIRMATION"},"notification":{"data":{}}}'

    with pytest.raises(MalformedDelivery, match="notification.notificationId"):
        verify("ebay", body, sign_ebay(body, ebay_private_key, kid=KID), settings=ebay_settings)
