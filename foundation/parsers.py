"""The API's JSON parser: DRF's, with the limits the rest of the hub relies on.

Every JSON body the API reads passes here (settings: DEFAULT_PARSER_CLASSES), so no view
has to repeat these checks:

- at most `MAX_BODY` bytes (413): the largest legitimate body, 10,000 catalogue lines,
  is a few MiB;
- UTF-8, as JSON is (RFC 8259); anything else is a 400, not a guess;
- nested at most `MAX_DEPTH` levels: Python's decoder recurses, and a body of
  "[[[[..." deep enough would exhaust the stack (a RecursionError, a 500);
- no string or name the database cannot store: PostgreSQL refuses NUL characters in
  text and jsonb, and a lone surrogate cannot be encoded at all.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils import json

MAX_DEPTH = 64
MAX_BODY = 16 * 1024 * 1024


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = f"Request bodies are limited to {MAX_BODY // (1024 * 1024)} MiB."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read(MAX_BODY + 1) if stream is not None else b""
        if len(raw) > MAX_BODY:
            raise BodyTooLarge()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8: send JSON as UTF-8 text.") from None
        constant = json.strict_constant if api_settings.STRICT_JSON else None
        try:
            data = json.loads(text, parse_constant=constant)
        except RecursionError:
            raise ParseError(_too_deep()) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        refuse_unstorable(data)
        return data


def _too_deep() -> str:
    return f"The JSON body is nested deeper than {MAX_DEPTH} levels."


def refuse_unstorable(data: Any) -> None:
    """Raise a 400 for JSON nested too deep or holding a string the database cannot store,
    naming where (`attributes.color`, `skus.3.code`). Iterative: no recursion to exhaust."""
    pending: list[tuple[Any, str, int]] = [(data, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(_too_deep())
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key, path, names=True)
                pending.append((item, f"{path}.{key}" if path else str(key), depth + 1))


def _check_text(text: str, path: str, *, names: bool = False) -> None:
    if text.isascii() and "\x00" not in text:
        return
    if "\x00" in text:
        message = "Null characters are not allowed"
    else:
        try:
            text.encode("utf-8")
            return
        except UnicodeEncodeError:
            message = "Surrogate characters are not allowed"
    message += " in names." if names else "."
    # The path comes from the body: keep it printable, encodable and short in the answer.
    field = (path or "non_field_errors").replace("\x00", "\\x00")
    field = field.encode("utf-8", "backslashreplace").decode("utf-8")[:200]
    raise ValidationError({field: [message]})
