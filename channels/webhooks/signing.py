"""The sender's side of each channel's webhook signature.

Verification (verify.py) computes signatures with these same functions, so the simulator,
the tests and the hub cannot drift apart on the wire format.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

STANDARD_SECRET_PREFIX = "whsec_"
EBAY_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
}


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def sign_shopify(body: bytes, secret: str) -> dict[str, str]:
    """Shopify: base64 HMAC-SHA256 of the raw body, keyed by the app's client secret."""
    return {"X-Shopify-Hmac-Sha256": b64(hmac_sha256(secret.encode(), body))}


# WordPress's wp_specialchars_decode( $s, ENT_QUOTES ) (wp-includes/formatting.php): only
# the entities of &, <, >, " and ', named or numeric (decimal or hex, zero-padded); every
# other entity (&eacute;, hex &#x3c;) is left as it is.
_WP_SPECIALCHARS = re.compile(r"&(?:(amp|lt|gt|quot)|#0*(38|60|62|34|39)|#[xX]0*(26|22|27));")
_WP_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"'}


def wp_specialchars_decode(text: str) -> str:
    """What WordPress's ``wp_specialchars_decode($text, ENT_QUOTES)`` returns."""

    def one(match: re.Match[str]) -> str:
        named, decimal, hexadecimal = match.groups()
        if named:
            return _WP_NAMED[named]
        return chr(int(decimal) if decimal else int(hexadecimal, 16))

    return _WP_SPECIALCHARS.sub(one, text)


def woocommerce_secret_key(secret: str) -> bytes:
    """The HMAC key of a WooCommerce webhook secret, as WooCommerce computes it:
    ``WC_Webhook::generate_signature()`` keys the HMAC with
    ``wp_specialchars_decode($this->get_secret(), ENT_QUOTES)``
    (woocommerce/woocommerce plugins/woocommerce/includes/class-wc-webhook.php), so a
    secret holding ``&amp;`` signs with ``&``."""
    return wp_specialchars_decode(secret).encode()


def sign_woocommerce(body: bytes, secret: str) -> dict[str, str]:
    """WooCommerce: base64 HMAC-SHA256 of the raw body, keyed by the webhook's secret
    (entity-decoded, see :func:`woocommerce_secret_key`)."""
    return {"X-WC-Webhook-Signature": b64(hmac_sha256(woocommerce_secret_key(secret), body))}


def make_standard_secret() -> str:
    """A fresh Standard Webhooks secret: 32 random bytes, base64, ``whsec_`` prefix."""
    return STANDARD_SECRET_PREFIX + b64(secrets.token_bytes(32))


def standard_secret_key(secret: str) -> bytes:
    """The HMAC key inside a Standard Webhooks secret.

    The ``whsec_`` prefix is optional and the rest is always base64, exactly as the
    reference library (``standardwebhooks.Webhook``) reads it, so a sender using that
    library and the hub agree on the key. A secret that is not base64 is refused rather
    than used as raw UTF-8 bytes: guessing would silently disagree with that library.
    Unlike the library we reject stray non-base64 characters instead of skipping them.

    Raises ValueError with a readable message; channel forms can call this to validate.
    """
    encoded = secret.removeprefix(STANDARD_SECRET_PREFIX).strip()
    try:
        # Secrets are often copied without their trailing "=" padding.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "a Standard Webhooks secret must be base64, optionally prefixed with 'whsec_'"
        ) from None
    if not key:
        raise ValueError("a Standard Webhooks secret must not be empty")
    return key


def standard_signature(key: bytes, *, msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    """The raw v1 signature over ``{id}.{timestamp}.{body}``."""
    return hmac_sha256(key, f"{msg_id}.{timestamp}.".encode() + body)


def sign_standard(body: bytes, secret: str, *, msg_id: str, timestamp: int) -> dict[str, str]:
    """All three Standard Webhooks headers for one message."""
    signature = standard_signature(
        standard_secret_key(secret), msg_id=msg_id, timestamp=timestamp, body=body
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{b64(signature)}",
    }


def sign_ebay(
    body: bytes, private_key: ec.EllipticCurvePrivateKey, *, kid: str, digest: str = "SHA1"
) -> dict[str, str]:
    """eBay: ECDSA (DER, base64) over the raw body, wrapped with its key id in base64 JSON."""
    algorithm = EBAY_DIGESTS[digest.upper()]()
    signature = private_key.sign(body, ec.ECDSA(algorithm))
    header = {"alg": "ecdsa", "kid": kid, "signature": b64(signature), "digest": digest}
    return {"X-EBAY-SIGNATURE": b64(json.dumps(header).encode())}
