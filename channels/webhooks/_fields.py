"""Field readers shared by verification and parsing.

Each reader either returns a clean value or raises MalformedDelivery naming the field by
its path in the payload (``line_items[2].quantity``), so a rejected delivery explains
itself in the inbox and the DLQ.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import MalformedDelivery

MAX_QUANTITY = 1_000_000_000
MAX_SKU_LENGTH = 100
MAX_ID_LENGTH = 255


def parse_json(body: str | bytes, *, source: str) -> Any:
    """Parse a body as strict JSON (no NaN/Infinity), refusing anything else clearly."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    # RecursionError: a body of a million "[" is valid-looking JSON nested too deep.
    except (ValueError, RecursionError) as exc:
        raise MalformedDelivery(f"{source} body is not valid JSON: {_short(exc)}") from None


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
    """A required, non-blank string of bounded length (topics, notification ids)."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedDelivery(f"{where} must be a non-empty string, got {_kind(value)}")
    if len(value) > max_length:
        raise MalformedDelivery(f"{where} is longer than {max_length} characters")
    return value


def identifier(value: Any, where: str) -> str:
    """A channel id, which channels send as a number or a string; always a string here."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return text(value, where).strip()


def sku(value: Any, where: str) -> str:
    found = optional_sku(value, where)
    if found is None:
        raise MalformedDelivery(f"{where} must be a non-empty SKU string")
    return found


def optional_sku(value: Any, where: str) -> str | None:
    """A SKU, or None when the channel sent none (null or blank)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedDelivery(f"{where} must be a string SKU, got {_kind(value)}")
    trimmed = value.strip()
    if len(trimmed) > MAX_SKU_LENGTH:
        raise MalformedDelivery(f"{where} is longer than {MAX_SKU_LENGTH} characters")
    return trimmed or None


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
