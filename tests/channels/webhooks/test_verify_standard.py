"""Standard Webhooks (kinds ``standard`` and ``sandbox``), checked against the reference
``standardwebhooks`` package in both directions."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from channels.webhooks.errors import MalformedDelivery, SignatureInvalid, VerificationUnavailable
from channels.webhooks.signing import make_standard_secret, sign_standard

from .support import NOW, fixture_body, flip_byte, verify

BODY = fixture_body("standard/order_created.json")
MSG_ID = "msg_2p8dY1mJ7fQq0cZxW3kL9rT4vB"


def reference_headers(secret: str, body: bytes, *, sent_at: datetime = NOW) -> dict[str, str]:
    """Headers as the reference library signs them."""
    signature = Webhook(secret).sign(MSG_ID, sent_at, body.decode())
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }


@pytest.mark.parametrize("kind", ["standard", "sandbox"])
def test_reference_library_signature_verifies(kind: str) -> None:
    secret = make_standard_secret()

    delivery = verify(kind, BODY, reference_headers(secret, BODY), secrets=[secret])

    assert delivery.dedupe_key == MSG_ID
    assert delivery.topic == "order.created"
    assert delivery.source_timestamp == NOW
    assert delivery.kept_headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(NOW.timestamp())),
    }


def test_one_flipped_body_byte_fails() -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY)

    with pytest.raises(SignatureInvalid, match="no v1 webhook-signature matches"):
        verify("standard", flip_byte(BODY), headers, secrets=[secret])


def test_one_flipped_signature_byte_fails() -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY)
    raw = base64.b64decode(headers["webhook-signature"].removeprefix("v1,"))
    headers["webhook-signature"] = "v1," + base64.b64encode(flip_byte(raw, 0)).decode()

    with pytest.raises(SignatureInvalid):
        verify("standard", BODY, headers, secrets=[secret])


def test_our_signature_verifies_with_the_reference_library() -> None:
    secret = make_standard_secret()
    sent_at = int(datetime.now(UTC).timestamp())  # the library checks against the real clock

    headers = sign_standard(BODY, secret, msg_id=MSG_ID, timestamp=sent_at)

    assert Webhook(secret).verify(BODY, headers) == {
        "type": "order.created",
        "timestamp": "2025-11-03T15:28:08Z",
        "data": {
            "order_id": "SF-100234",
            "lines": [
                {"sku": "MUG-BLUE", "quantity": 2, "restock": False},
                {"sku": "BEANIE-CHAR", "quantity": 1, "line_id": "SF-100234-2"},
            ],
        },
    }


def test_secret_without_prefix_is_read_as_base64_like_the_reference_library() -> None:
    secret = make_standard_secret().removeprefix("whsec_")

    assert verify("standard", BODY, reference_headers(secret, BODY), secrets=[secret]).topic == (
        "order.created"
    )


def test_secret_that_is_not_base64_is_a_configuration_problem() -> None:
    headers = sign_standard(
        BODY, make_standard_secret(), msg_id=MSG_ID, timestamp=int(NOW.timestamp())
    )

    with pytest.raises(VerificationUnavailable, match="base64"):
        verify("standard", BODY, headers, secrets=["correct horse battery staple!"])


def test_wrong_secret_is_rejected() -> None:
    headers = reference_headers(make_standard_secret(), BODY)

    with pytest.raises(SignatureInvalid):
        verify("standard", BODY, headers, secrets=[make_standard_secret()])


def test_previous_secret_still_verifies_during_rotation() -> None:
    old, new = make_standard_secret(), make_standard_secret()

    assert (
        verify("standard", BODY, reference_headers(old, BODY), secrets=[new, old]).dedupe_key
        == MSG_ID
    )


def test_any_of_several_signatures_may_match() -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY)
    stale = reference_headers(make_standard_secret(), BODY)["webhook-signature"]
    headers["webhook-signature"] = (
        f"v1a,bm90LWVkMjU1MTk= {stale} v1,@@@ {headers['webhook-signature']}"
    )

    assert verify("standard", BODY, headers, secrets=[secret]).topic == "order.created"


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_timestamp_outside_five_minutes_is_rejected(offset: timedelta) -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY, sent_at=NOW + offset)

    with pytest.raises(SignatureInvalid, match="replay window"):
        verify("standard", BODY, headers, secrets=[secret])


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(minutes=5)])
def test_timestamp_at_the_edge_of_the_window_is_accepted(offset: timedelta) -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY, sent_at=NOW + offset)

    assert verify("standard", BODY, headers, secrets=[secret]).dedupe_key == MSG_ID


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    secret = make_standard_secret()
    headers = reference_headers(secret, BODY)
    del headers[missing]

    with pytest.raises(SignatureInvalid, match=missing):
        verify("standard", BODY, headers, secrets=[secret])


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-timestamp", "1762183800.5"),
        ("webhook-timestamp", "99999999999999"),
        ("webhook-id", "a.b"),
    ],
)
def test_unusable_id_or_timestamp_is_rejected(header: str, value: str) -> None:
    secret = make_standard_secret()
    headers = {**reference_headers(secret, BODY), header: value}

    with pytest.raises(SignatureInvalid, match=header):
        verify("standard", BODY, headers, secrets=[secret])


def test_signed_payload_without_type_is_malformed() -> None:
    secret = make_standard_secret()
    body = b'{"data": {}}'

    with pytest.raises(MalformedDelivery, match="type"):
        verify("standard", body, reference_headers(secret, body), secrets=[secret])
