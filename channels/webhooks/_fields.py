"""Field readers shared by verification and parsing.

Each reader either returns a clean value or raises MalformedDelivery naming the field by
its path in the payload (``line_items[2].quantity``), so a rejected delivery explains
itself in the inbox and the DLQ.

Nothing a reader returns can fail to be stored later: the limits below are the columns'
(channels/models.py, ledger/models.py), and control characters and lone surrogates are
refused outright, since PostgreSQL text holds no NUL and UTF-8 no lone surrogate. A value
the database would refuse is a 400 now, while the sender listens, not a dead inbox row.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import MalformedDelivery

MAX_QUANTITY = 1_000_000_000
# InboundEvent.topic.
MAX_TOPIC_LENGTH = 100
# Sku.code and Sku.code_key; the key is the case-folded form, which can be longer.
MAX_SKU_LENGTH = 100
# Order ids and line refs. Intake composes them into StockOperation.idempotency_key
# (255): "order:" + channel pk (<= 19 digits) + ":" + order + ":" + line + ":" + step
# (<= 17, "return-1000000000") is at most 245 with 100 each; and into Movement.source_ref
# (255) as slug (<= 50) + ":" + order. ChannelOrderLine and Reservation hold 255 each.
MAX_REF_LENGTH = 100
# Other ids: Listing.external_id (255); dedupe keys longer than 255 are hashed.
MAX_ID_LENGTH = 255
# Real webhook payloads nest under ten levels; anything far deeper is hostile, and
# recursive code further on (the json module, renderers) must never meet it.
MAX_JSON_DEPTH = 64

# C0 and C1 controls, DEL, and lone surrogates (which JSON's \ud800 escapes can produce):
# no id, code or topic has them, NUL cannot be stored, a surrogate cannot be encoded.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text kept for audit (headers) may hold tabs; only what cannot be stored is refused.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def parse_json(body: str | bytes, *, source: str) -> Any:
    """Parse a body as strict UTF-8 JSON (no BOM, no NaN/Infinity, at most MAX_JSON_DEPTH
    levels deep), refusing anything else with a message that says what is wrong.

    The json module would guess UTF-16 and UTF-32 from bytes; the inbox stores the body as
    UTF-8 text and re-reads it later, so a body is UTF-8 or it is refused here.
    """
    text = _utf8(body, source=source)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        # The decoder gives up at the interpreter's recursion limit (a million "[").
        raise MalformedDelivery(_too_deep(source)) from None
    except ValueError as exc:
        raise MalformedDelivery(f"{source} body is not valid JSON: {_short(exc)}") from None
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise MalformedDelivery(_too_deep(source))
    return document


def _utf8(body: str | bytes, *, source: str) -> str:
    if isinstance(body, str):
        if body.startswith("\ufeff"):
            raise MalformedDelivery(f"{source} body starts with a byte-order mark; {_WANTED}")
        return body
    if body.startswith(_UTF8_BOM):
        raise MalformedDelivery(f"{source} body starts with a UTF-8 byte-order mark; {_WANTED}")
    # JSON text starts with an ASCII character, so a NUL among the first two bytes is
    # UTF-16 or UTF-32 (RFC 8259 section 8.1 had senders detect encodings the same way).
    if body.startswith(_UTF16_BOMS) or b"\x00" in body[:2]:
        raise MalformedDelivery(
            f"{source} body looks UTF-16 or UTF-32 encoded (a NUL byte or a byte-order mark "
            f"at its start); {_WANTED}"
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedDelivery(
            f"{source} body is not UTF-8 (byte {exc.start}: {exc.reason}); {_WANTED}"
        ) from None


_WANTED = "webhook bodies must be UTF-8 JSON without a byte-order mark"


def _too_deep(source: str) -> str:
    return f"{source} body nests JSON deeper than {MAX_JSON_DEPTH} levels"


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels; without recursion."""
    stack = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _short(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedDelivery(f"{where} must be a JSON object, got {_kind(value)}")
    return value


def items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedDelivery(f"{where} must be a JSON array, got {_kind(value)}")
    return value


def text(value: Any, where: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """A required, non-blank string of bounded length without control characters
    (notification ids, statuses)."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedDelivery(f"{where} must be a non-empty string, got {_kind(value)}")
    if len(value) > max_length:
        raise MalformedDelivery(f"{where} is longer than {max_length} characters")
    return clean(value, where)


def topic(value: Any, where: str) -> str:
    """A topic or event type, as the inbox stores it."""
    return text(value, where, max_length=MAX_TOPIC_LENGTH)


def identifier(value: Any, where: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """A channel id, which channels send as a number or a string; always a string here."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return text(value, where, max_length=max_length).strip()


def reference(value: Any, where: str) -> str:
    """An order id or an order line's id: see MAX_REF_LENGTH."""
    return identifier(value, where, max_length=MAX_REF_LENGTH)


def clean(value: str, where: str) -> str:
    """``value`` unchanged, unless it holds a control character or a lone surrogate."""
    if found := _CONTROL.search(value):
        raise MalformedDelivery(
            f"{where} contains the control character {found.group()!r} at position "
            f"{found.start()}; ids, codes and topics cannot hold one"
        )
    return value


def storable(value: str, where: str) -> str:
    """Free text kept as it came (headers): refused only if the database cannot hold it."""
    if found := _UNSTORABLE.search(value):
        raise MalformedDelivery(
            f"{where} contains {found.group()!r} at position {found.start()}, "
            "which cannot be stored"
        )
    return value


def sku(value: Any, where: str) -> str:
    found = optional_sku(value, where)
    if found is None:
        raise MalformedDelivery(f"{where} must be a non-empty SKU string")
    return found


def optional_sku(value: Any, where: str) -> str | None:
    """A SKU, trimmed, or None when the channel sent none (null or blank)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedDelivery(f"{where} must be a string SKU, got {_kind(value)}")
    trimmed = value.strip()
    if len(trimmed) > MAX_SKU_LENGTH:
        raise MalformedDelivery(f"{where} is longer than {MAX_SKU_LENGTH} characters")
    # Case-folding can lengthen a code ("ß" becomes "ss"), and the folded form is what
    # the SKU table's code_key holds and what every lookup compares.
    if len(key := sku_key(trimmed)) > MAX_SKU_LENGTH:
        raise MalformedDelivery(
            f"{where} is {len(key)} characters once case-folded for matching, longer than "
            f"the {MAX_SKU_LENGTH} a SKU code may have"
        )
    return clean(trimmed, where) or None


def sku_key(code: str) -> str:
    """The matching form of a SKU code. The same rule as ledger.models.normalize_sku_code
    (a test holds them together); restated because this package imports no models."""
    return code.strip().casefold()


def order_quantity(value: Any, where: str) -> int:
    """Units on an order line: a whole number from 1 to MAX_QUANTITY."""
    return _integer(value, where, minimum=1)


def level_quantity(value: Any, where: str) -> int:
    """A reported stock level: zero and oversold (negative) levels are real reports."""
    return _integer(value, where, minimum=-MAX_QUANTITY)


def _integer(value: Any, where: str, *, minimum: int) -> int:
    # bool is an int in Python, but `true` is not a quantity.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedDelivery(f"{where} must be a whole number, got {_kind(value)}")
    if not minimum <= value <= MAX_QUANTITY:
        raise MalformedDelivery(
            f"{where} must be between {minimum} and {MAX_QUANTITY}, got {value}"
        )
    return value


def flag(value: Any, where: str, *, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MalformedDelivery(f"{where} must be true or false, got {_kind(value)}")
    return value


def timestamp(value: Any, where: str) -> datetime | None:
    """An optional ISO-8601 time from a payload; naive times are UTC (WooCommerce's *_gmt)."""
    if value is None:
        return None
    parsed = lenient_timestamp(value)
    if parsed is None:
        raise MalformedDelivery(f"{where} must be an ISO-8601 date-time, got {value!r:.60}")
    return parsed


def lenient_timestamp(value: Any) -> datetime | None:
    """Parse a timestamp, or None: for unsigned metadata that must not sink a good delivery."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {dict: "an object", list: "an array"}
    return names.get(type(value), f"a {type(value).__name__}")
