"""The sender side that the simulator and benchmarks import."""

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from channels.webhooks.signing import (
    make_standard_secret,
    sign_ebay,
    sign_shopify,
    sign_standard,
    sign_woocommerce,
    standard_secret_key,
)

BODY = b'{"id":727,"status":"processing"}'


def test_shopify_and_woocommerce_sign_the_raw_body_with_base64_hmac_sha256() -> None:
    expected = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha256).digest()).decode()

    assert sign_shopify(BODY, "s3cret") == {"X-Shopify-Hmac-Sha256": expected}
    assert sign_woocommerce(BODY, "s3cret") == {"X-WC-Webhook-Signature": expected}


def test_standard_secret_is_prefixed_base64_of_32_random_bytes() -> None:
    secret = make_standard_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != make_standard_secret()


def test_standard_headers_sign_id_timestamp_and_body() -> None:
    secret = make_standard_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))

    headers = sign_standard(BODY, secret, msg_id="msg_1", timestamp=1762183800)

    mac = hmac.new(key, b"msg_1.1762183800." + BODY, hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1762183800",
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_standard_secret_key_tolerates_missing_padding() -> None:
    assert standard_secret_key("whsec_AAEC") == b"\x00\x01\x02"
    assert standard_secret_key("AAECAw") == b"\x00\x01\x02\x03"


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not*base64", "plain text secret"])
def test_standard_secret_key_refuses_what_is_not_base64(secret: str) -> None:
    with pytest.raises(ValueError, match="Standard Webhooks secret"):
        standard_secret_key(secret)


@pytest.mark.parametrize(
    ("digest", "algorithm"), [("SHA1", hashes.SHA1()), ("SHA256", hashes.SHA256())]
)
def test_ebay_header_is_base64_json_with_a_der_ecdsa_signature(
    digest: str, algorithm: hashes.HashAlgorithm
) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())

    headers = sign_ebay(BODY, private_key, kid="kid-1", digest=digest)

    claim = json.loads(base64.b64decode(headers["X-EBAY-SIGNATURE"]))
    assert {k: claim[k] for k in ("alg", "kid", "digest")} == {
        "alg": "ecdsa",
        "kid": "kid-1",
        "digest": digest,
    }
    private_key.public_key().verify(base64.b64decode(claim["signature"]), BODY, ec.ECDSA(algorithm))
