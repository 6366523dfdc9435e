"""Prove a webhook delivery came from its channel, and extract what the inbox stores.

Pure functions of the request: no database, no Django. The intake view passes
``request.body``, ``request.headers``, ``request.method`` and ``request.GET`` plus the
channel's secrets and settings, then stores the returned Delivery under its dedupe key.
The one side effect is eBay's public-key fetch, cached in this module.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from foundation.egress import EgressRefused, check_outbound_url

from . import _fields, ebay_oauth
from .errors import MalformedDelivery, SignatureInvalid, VerificationUnavailable, WebhookRejected
from .signing import (
    EBAY_DIGESTS,
    hmac_sha256,
    standard_secret_key,
    standard_signature,
    woocommerce_secret_key,
)

__all__ = [
    "Delivery",
    "MalformedDelivery",
    "SignatureInvalid",
    "VerificationUnavailable",
    "WebhookRejected",
    "clear_ebay_key_cache",
    "verify_delivery",
    "verify_ebay",
    "verify_shopify",
    "verify_standard",
    "verify_woocommerce",
]

# The reference Standard Webhooks library's tolerance; the spec only says "allowable".
STANDARD_TOLERANCE = timedelta(minutes=5)
EBAY_KEY_URL = "https://api.ebay.com/commerce/notification/v1/public_key/{kid}"
EBAY_KEY_TTL = timedelta(hours=1)
# The key fetch happens inside the webhook request; eBay waits on us, so fail fast.
EBAY_KEY_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# Dedupe keys go into a unique database column; longer keys are hashed to fit.
MAX_DEDUPE_KEY_LENGTH = 255

# Worth keeping for audit and debugging; signatures never are.
_COMMON_KEPT = ("content-type", "user-agent")
_SHOPIFY_KEPT = (
    "x-shopify-topic",
    "x-shopify-sub-topic",
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "x-shopify-name",
)
_WOO_KEPT = (
    "x-wc-webhook-source",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
)
_STANDARD_KEPT = ("webhook-id", "webhook-timestamp")

# Woo's unsigned creation ping is exactly this form body.
_WOO_PING = re.compile(rb"webhook_id=(\d{1,20})")
# Standard Webhooks ids are signed as "{id}.{timestamp}.", so "." would be ambiguous.
_STANDARD_ID = re.compile(r"[\x21-\x2d\x2f-\x7e]{1,255}")
# Ten digits reach the year 2286; more would overflow datetime before the window check.
_UNIX_SECONDS = re.compile(r"\d{1,10}")
# eBay key ids are UUIDs; anything outside visible ASCII cannot be one.
_EBAY_KID = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True, slots=True)
class Delivery:
    """An authenticated delivery, ready for the inbox."""

    # Unique per channel; a redelivery of the same event has the same key.
    dedupe_key: str
    topic: str
    source_timestamp: datetime | None
    payload: Any
    kept_headers: dict[str, str] = field(default_factory=dict)
    # Woo's creation ping: answer 200, store nothing.
    ping: bool = False
    # eBay's endpoint validation: answer 200 with this JSON, store nothing.
    challenge_response: dict[str, str] | None = None


class _Verifier(Protocol):
    def __call__(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        method: str,
        query: Mapping[str, str],
        secrets: Sequence[str],
        settings: Mapping[str, Any],
        now: datetime,
    ) -> Delivery: ...


def verify_delivery(
    kind: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    """Verify one HTTP delivery for a channel of ``kind``.

    ``secrets`` holds the current secret first and, during a rotation, the previous ones;
    any of them verifies. ``now`` must be timezone-aware. Raises a WebhookRejected
    subclass (SignatureInvalid, MalformedDelivery, VerificationUnavailable) and nothing
    else for anything the sender controls; an unknown ``kind`` is a bug (ValueError).
    """
    verifier = _VERIFIERS.get(kind)
    if verifier is None:
        raise ValueError(f"no webhook verifier for channel kind {kind!r}")
    return verifier(
        body=body,
        headers=headers,
        method=method,
        query=query,
        secrets=secrets,
        settings=settings,
        now=now,
    )


def verify_shopify(
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    _require_post("Shopify", method)
    header = _lower(headers)
    signature = _b64decode(header.get("x-shopify-hmac-sha256"))
    if signature is None:
        raise SignatureInvalid("missing or non-base64 X-Shopify-Hmac-Sha256 header")
    keys = [secret.encode() for secret in _usable(secrets)]
    if not any(hmac.compare_digest(hmac_sha256(key, body), signature) for key in keys):
        raise SignatureInvalid(
            "X-Shopify-Hmac-Sha256 does not match the body under any configured secret"
        )

    topic = _fields.topic(header.get("x-shopify-topic"), "X-Shopify-Topic header")
    payload = _fields.mapping(_fields.parse_json(body, source="Shopify"), "Shopify body")
    # Event-Id is shared by every topic one merchant action fires, hence the topic.
    if event_id := header.get("x-shopify-event-id"):
        dedupe_key = make_dedupe_key(topic, _fields.clean(event_id, "X-Shopify-Event-Id header"))
    elif webhook_id := header.get("x-shopify-webhook-id"):
        webhook_id = _fields.clean(webhook_id, "X-Shopify-Webhook-Id header")
        dedupe_key = make_dedupe_key("webhook-id", webhook_id)
    else:
        raise MalformedDelivery("missing X-Shopify-Event-Id and X-Shopify-Webhook-Id headers")
    return Delivery(
        dedupe_key=dedupe_key,
        topic=topic,
        # Unsigned metadata: a format change must not sink a verified delivery.
        source_timestamp=_fields.lenient_timestamp(header.get("x-shopify-triggered-at")),
        payload=payload,
        kept_headers=_kept(header, _SHOPIFY_KEPT),
    )


def verify_woocommerce(
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    _require_post("WooCommerce", method)
    header = _lower(headers)
    if "x-wc-webhook-signature" not in header:
        # Woo POSTs `webhook_id=<id>` unsigned when a webhook is created and disables the
        # webhook unless it gets a 200; it carries no event, so nothing is trusted from it.
        if ping := _WOO_PING.fullmatch(body):
            webhook_id = ping.group(1).decode()
            return Delivery(
                dedupe_key=make_dedupe_key("ping", webhook_id),
                topic="ping",
                source_timestamp=None,
                payload={"webhook_id": webhook_id},
                kept_headers=_kept(header, ()),
                ping=True,
            )
        raise SignatureInvalid(
            "missing X-WC-Webhook-Signature header (only the creation ping is unsigned)"
        )
    signature = _b64decode(header["x-wc-webhook-signature"])
    if signature is None:
        raise SignatureInvalid("X-WC-Webhook-Signature is not base64")
    # Woo keys the HMAC with the secret's HTML entities decoded (signing.py cites it).
    keys = [woocommerce_secret_key(secret) for secret in _usable(secrets)]
    if not any(hmac.compare_digest(hmac_sha256(key, body), signature) for key in keys):
        raise SignatureInvalid(
            "X-WC-Webhook-Signature does not match the body under any configured secret"
        )

    topic = _fields.topic(header.get("x-wc-webhook-topic"), "X-WC-Webhook-Topic header")
    webhook_id = _fields.text(header.get("x-wc-webhook-id"), "X-WC-Webhook-ID header")
    payload = _fields.mapping(_fields.parse_json(body, source="WooCommerce"), "WooCommerce body")
    resource_id = _fields.identifier(payload.get("id"), "id")
    # Delivery-ID changes on every send, so it cannot dedupe. Woo builds the payload at
    # delivery time: the same (resource, modification time) means the same state. Deleted
    # resources carry only {id}, so their modification time is empty.
    modified = payload.get("date_modified_gmt")
    modified = _fields.clean(modified, "date_modified_gmt") if isinstance(modified, str) else ""
    return Delivery(
        dedupe_key=make_dedupe_key(webhook_id, resource_id, modified),
        topic=topic,
        source_timestamp=_fields.lenient_timestamp(modified),
        payload=payload,
        kept_headers=_kept(header, _WOO_KEPT),
    )


def verify_standard(
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    """Standard Webhooks, symmetric (v1) scheme; also the simulator's ``sandbox`` kind."""
    _require_post("Standard Webhooks", method)
    header = _lower(headers)
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    if missing := [name for name in wanted if not header.get(name)]:
        raise SignatureInvalid(f"missing Standard Webhooks header(s): {', '.join(missing)}")
    msg_id, raw_timestamp = header["webhook-id"], header["webhook-timestamp"]
    if not _STANDARD_ID.fullmatch(msg_id):
        raise SignatureInvalid("webhook-id must be 1-255 visible ASCII characters without '.'")
    if not _UNIX_SECONDS.fullmatch(raw_timestamp):
        raise SignatureInvalid("webhook-timestamp must be whole Unix seconds")
    sent_at = datetime.fromtimestamp(int(raw_timestamp), tz=UTC)
    if abs(now - sent_at) > STANDARD_TOLERANCE:
        skew = int((sent_at - now).total_seconds())
        raise SignatureInvalid(
            f"webhook-timestamp is {skew:+d} s from now, outside the "
            f"{int(STANDARD_TOLERANCE.total_seconds())} s replay window; "
            "a stale replay or a sender with a wrong clock"
        )

    try:
        keys = [standard_secret_key(secret) for secret in _usable(secrets)]
    except ValueError as exc:
        raise VerificationUnavailable(f"the channel's webhook secret is unusable: {exc}") from None
    expected = [
        standard_signature(key, msg_id=msg_id, timestamp=raw_timestamp, body=body) for key in keys
    ]
    # Several space-separated "v1,<base64>" entries allow zero-downtime rotation on the
    # sender's side; other versions (v1a is ed25519) are skipped, as the spec says.
    offered = [
        _b64decode(encoded)
        for version, _, encoded in (
            entry.partition(",") for entry in header["webhook-signature"].split()
        )
        if version == "v1"
    ]
    if not any(
        hmac.compare_digest(candidate, mac)
        for candidate in offered
        if candidate is not None
        for mac in expected
    ):
        raise SignatureInvalid("no v1 webhook-signature matches under any configured secret")

    payload = _fields.mapping(_fields.parse_json(body, source="Standard Webhooks"), "body")
    return Delivery(
        dedupe_key=msg_id,
        topic=_fields.topic(payload.get("type"), "type"),
        source_timestamp=sent_at,
        payload=payload,
        kept_headers=_kept(header, _STANDARD_KEPT),
    )


def verify_ebay(
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    """eBay Notification API: GET endpoint validation, or an ECDSA-signed POST.

    ``settings``: ``verification_token`` and ``endpoint_url`` (for the challenge, exactly
    as registered with eBay), optional ``notification_key_url`` (``{kid}`` is replaced)
    and ``application_token`` (sent as a bearer token). eBay's key endpoint wants an
    application access token: without a configured one, ``client_id`` and
    ``client_secret`` mint it (client-credentials grant at ``base_url``'s identity
    endpoint), cached until it expires. ``secrets`` is not used.
    """
    header = _lower(headers)
    if method.upper() == "GET":
        return _ebay_challenge(query=query, settings=settings, kept=_kept(header, ()))
    _require_post("eBay", method)

    claim = _ebay_signature_claim(header.get("x-ebay-signature"))
    public_key = _ebay_public_key(claim.kid, settings=settings, now=now)
    if not _ebay_signature_matches(public_key, claim, body):
        raise SignatureInvalid(f"X-EBAY-SIGNATURE does not match the body (kid {claim.kid!r})")

    payload = _fields.mapping(_fields.parse_json(body, source="eBay"), "eBay body")
    metadata = _fields.mapping(payload.get("metadata"), "metadata")
    notification = _fields.mapping(payload.get("notification"), "notification")
    notification_id = _fields.text(
        notification.get("notificationId"), "notification.notificationId"
    )
    return Delivery(
        dedupe_key=make_dedupe_key(notification_id),
        topic=_fields.topic(metadata.get("topic"), "metadata.topic"),
        source_timestamp=_fields.lenient_timestamp(notification.get("eventDate")),
        payload=payload,
        kept_headers=_kept(header, ()),
    )


def _reject_amazon_http(
    *,
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    query: Mapping[str, str],
    secrets: Sequence[str],
    settings: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    # Amazon signs nothing; only the SQS queue's IAM policy proves origin. Accepting an
    # HTTP post would let anyone invent orders.
    raise SignatureInvalid(
        "Amazon notifications arrive through SQS, not HTTP; an HTTP delivery cannot be "
        "authenticated"
    )


_VERIFIERS: dict[str, _Verifier] = {
    "shopify": verify_shopify,
    "woocommerce": verify_woocommerce,
    "standard": verify_standard,
    "sandbox": verify_standard,
    "ebay": verify_ebay,
    "amazon": _reject_amazon_http,
}


# --- eBay ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EbayClaim:
    kid: str
    signature: bytes
    digest: str


def _ebay_signature_claim(value: str | None) -> _EbayClaim:
    if not value:
        raise SignatureInvalid("missing X-EBAY-SIGNATURE header")
    decoded = _b64decode(value)
    try:
        claim = json.loads(decoded) if decoded is not None else None
    except (ValueError, RecursionError):
        claim = None
    fields = ("alg", "kid", "signature", "digest")
    if not isinstance(claim, dict) or not all(isinstance(claim.get(f), str) for f in fields):
        raise SignatureInvalid(
            "X-EBAY-SIGNATURE must be base64 JSON with string alg, kid, signature and digest"
        )
    if claim["alg"].lower() != "ecdsa":
        raise SignatureInvalid(f"X-EBAY-SIGNATURE alg {claim['alg']!r:.40} is not ecdsa")
    # eBay documents SHA1; a 2021 eBay deck shows SHA256, so honour what the header names.
    digest = claim["digest"].upper()
    if digest not in EBAY_DIGESTS:
        raise SignatureInvalid(
            f"X-EBAY-SIGNATURE digest {claim['digest']!r:.40} is not SHA1 or SHA256"
        )
    if not _EBAY_KID.fullmatch(claim["kid"]):
        raise SignatureInvalid("X-EBAY-SIGNATURE kid must be 1-200 visible ASCII characters")
    signature = _b64decode(claim["signature"])
    if signature is None:
        raise SignatureInvalid("X-EBAY-SIGNATURE signature is not base64")
    return _EbayClaim(kid=claim["kid"], signature=signature, digest=digest)


def _ebay_signature_matches(
    public_key: ec.EllipticCurvePublicKey, claim: _EbayClaim, body: bytes
) -> bool:
    algorithm = ec.ECDSA(EBAY_DIGESTS[claim.digest]())
    # eBay's SDK verifies JSON.stringify(parsed body), i.e. compact JSON; for the compact
    # bodies eBay sends that is the raw body. If the body ever arrives re-formatted, the
    # compact form of the same JSON is what eBay signed.
    candidates = [body]
    try:
        compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        compact = body
    if compact != body:
        candidates.append(compact)
    for message in candidates:
        try:
            public_key.verify(claim.signature, message, algorithm)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


# Keyed by the resolved URL, which carries the kid: the same kid on production and
# sandbox stays apart. Entries come only from eBay's successful answers, so a flood of
# forged kids cannot grow it. Races between threads only cost a duplicate fetch.
_EBAY_KEYS: dict[str, tuple[datetime, ec.EllipticCurvePublicKey]] = {}


def clear_ebay_key_cache() -> None:
    _EBAY_KEYS.clear()
    _EBAY_APP_TOKENS.clear()


def _ebay_public_key(
    kid: str, *, settings: Mapping[str, Any], now: datetime
) -> ec.EllipticCurvePublicKey:
    template = str(settings.get("notification_key_url", EBAY_KEY_URL))
    url = template.replace("{kid}", quote(kid, safe=""))
    cached = _EBAY_KEYS.get(url)
    # A clock that stepped backwards also expires the entry rather than pinning it.
    if cached is not None and timedelta(0) <= now - cached[0] < EBAY_KEY_TTL:
        return cached[1]

    request_headers = {"Accept": "application/json"}
    if token := settings.get("application_token") or _ebay_application_token(settings, now=now):
        request_headers["Authorization"] = f"Bearer {token}"
    try:
        # The application token goes to this address only: never inside the hub's own
        # network (unless allowed), never on to wherever a redirect points.
        check_outbound_url(url)
        response = httpx.get(
            url, headers=request_headers, timeout=EBAY_KEY_TIMEOUT, follow_redirects=False
        )
    except EgressRefused as exc:
        raise VerificationUnavailable(f"could not fetch eBay public key {kid!r}: {exc}") from None
    except httpx.HTTPError as exc:
        raise VerificationUnavailable(
            f"could not fetch eBay public key {kid!r}: {type(exc).__name__}: {exc}"
        ) from None
    if response.status_code == 404:
        raise SignatureInvalid(f"eBay does not know the signing key id {kid!r}")
    if response.status_code != 200:
        raise VerificationUnavailable(
            f"eBay public key service answered HTTP {response.status_code} for kid {kid!r}"
        )
    public_key = _ebay_key_from_response(response)
    if public_key is None:
        raise VerificationUnavailable(
            f"eBay public key response for kid {kid!r} is not an ECDSA PEM public key"
        )
    _EBAY_KEYS[url] = (now, public_key)
    return public_key


# Application tokens minted with the client-credentials grant, by (token URL, client id):
# eBay allows 1,000 such grants a day per app, so each process mints one per token
# lifetime, not one per key fetch.
_EBAY_APP_TOKENS: dict[tuple[str, str], ebay_oauth.Grant] = {}


def _ebay_application_token(settings: Mapping[str, Any], *, now: datetime) -> str | None:
    """An application access token for eBay's public-key lookup, as eBay's event
    notification SDK gets one (client-credentials grant, scope
    ``https://api.ebay.com/oauth/api_scope``; eBay/event-notification-nodejs-sdk
    lib/client.js). None without the app's ``client_id`` and ``client_secret``: the
    caller then sends what it has (see ``channels.intake.verify``)."""
    client_id, secret = settings.get("client_id"), settings.get("client_secret")
    if not client_id or not secret:
        return None
    url = ebay_oauth.token_url(settings.get("base_url"))
    cached = _EBAY_APP_TOKENS.get((url, str(client_id)))
    if cached is not None and ebay_oauth.still_good(cached.expires_at, now=now):
        return cached.access_token
    try:
        check_outbound_url(url)
        response = httpx.post(
            url,
            data=ebay_oauth.application_form(),
            headers=ebay_oauth.token_headers(str(client_id), str(secret)),
            timeout=EBAY_KEY_TIMEOUT,
            follow_redirects=False,
        )
    except EgressRefused as exc:
        raise VerificationUnavailable(f"could not get an eBay application token: {exc}") from None
    except httpx.HTTPError as exc:
        raise VerificationUnavailable(
            f"could not get an eBay application token: {type(exc).__name__}: {exc}"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    try:
        grant = ebay_oauth.grant_from_answer(response.status_code, body, now=now)
    except (ebay_oauth.GrantRefused, ValueError) as exc:
        raise VerificationUnavailable(f"could not get an eBay application token: {exc}") from None
    _EBAY_APP_TOKENS[(url, str(client_id))] = grant
    return grant.access_token


def _ebay_key_from_response(response: httpx.Response) -> ec.EllipticCurvePublicKey | None:
    try:
        document = response.json()
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("key"), str):
        return None
    if str(document.get("algorithm", "ECDSA")).upper() != "ECDSA":
        return None
    # eBay returns the PEM on one line, which PEM loaders refuse; the base64 DER between
    # the armour lines is all that matters.
    armour = re.compile(r"-----(BEGIN|END) PUBLIC KEY-----|\s")
    der = _b64decode(armour.sub("", document["key"]))
    if der is None:
        return None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def _ebay_challenge(
    *, query: Mapping[str, str], settings: Mapping[str, Any], kept: dict[str, str]
) -> Delivery:
    code = query.get("challenge_code")
    if not code:
        raise MalformedDelivery("eBay endpoint validation is a GET with a challenge_code parameter")
    token, endpoint = settings.get("verification_token"), settings.get("endpoint_url")
    if not token or not endpoint:
        raise VerificationUnavailable(
            "the eBay channel needs settings verification_token and endpoint_url (as "
            "registered with eBay) to answer endpoint validation"
        )
    digest = hashlib.sha256(f"{code}{token}{endpoint}".encode()).hexdigest()
    return Delivery(
        dedupe_key=make_dedupe_key("challenge", code),
        topic="challenge",
        source_timestamp=None,
        payload=None,
        kept_headers=kept,
        challenge_response={"challengeResponse": digest},
    )


# --- helpers ------------------------------------------------------------------------


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    # HTTP header names are case-insensitive; senders and proxies vary the case.
    return {name.lower(): value for name, value in headers.items()}


def _kept(header: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    # Stored as JSON for audit: a NUL there would fail in the database, not here.
    return {
        name: _fields.storable(header[name], f"{name} header")
        for name in (*_COMMON_KEPT, *names)
        if name in header
    }


def _require_post(channel: str, method: str) -> None:
    if method.upper() != "POST":
        raise MalformedDelivery(f"{channel} webhooks are POST requests, not {method:.10}")


def _usable(secrets: Sequence[str]) -> list[str]:
    # An empty secret is a valid HMAC key that anyone can use; never let it verify.
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise VerificationUnavailable("the channel has no webhook secret configured")
    return usable


def _b64decode(value: str | bytes | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def make_dedupe_key(*parts: str) -> str:
    """A delivery's dedupe key from its ids, hashed when it would not fit the column."""
    key = ":".join(parts)
    if len(key) <= MAX_DEDUPE_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
