"""Small request/response values the simulator's handlers work with.

The server (``server.py``) turns each HTTP request into a :class:`Request`, a handler
returns a :class:`Response`, and :class:`HttpError` lets deep code end a request with a
ready response. Nothing here touches sockets, so handlers stay easy to read and test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    # Decoded path segments below the simulator root, e.g. ["shopify", "s1", "admin", ...].
    segments: list[str]
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    # "host:port" the client addressed, to build URLs that point back at the simulator.
    host: str

    @classmethod
    def build(
        cls, method: str, segments: list[str], query: str, headers: dict[str, str], body: bytes
    ) -> Request:
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            method=method.upper(),
            segments=segments,
            query=parse_qs(query, keep_blank_values=True),
            headers=lowered,
            body=body,
            host=lowered.get("host", ""),
        )

    @property
    def root_url(self) -> str:
        return f"http://{self.host}"

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The JSON body; a malformed one ends the request with a 400."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(
                json_response(400, {"error": "bad_request", "message": f"body is not JSON: {exc}"})
            ) from exc


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Items a write carried (for the request log), filled by handlers.
    items: int | None = None


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def bad_request(message: str) -> HttpError:
    return HttpError(json_response(400, {"error": "bad_request", "message": message}))


class HttpError(Exception):
    """Ends the current request with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def format_seconds(seconds: float) -> str:
    """A Retry-After value: decimal seconds, at least 0.1 (Shopify also sends "2.0")."""
    return f"{max(seconds, 0.1):.1f}"
