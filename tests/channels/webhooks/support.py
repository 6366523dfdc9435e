"""Shared test helpers: payload fixtures, a fixed clock and a loopback eBay key server."""

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.webhooks.verify import Delivery, verify_delivery

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2025, 11, 3, 15, 30, tzinfo=UTC)
SECRET = "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"
OLD_SECRET = "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"


def fixture_body(name: str) -> bytes:
    """The fixture's exact bytes: signatures cover the raw body, not its parse."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_body(name))


def flip_byte(body: bytes, index: int = 10) -> bytes:
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]


def verify(
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    query: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (SECRET,),
    settings: Mapping[str, Any] | None = None,
    now: datetime = NOW,
) -> Delivery:
    return verify_delivery(
        kind,
        body=body,
        headers=headers,
        method=method,
        query=query or {},
        secrets=list(secrets),
        settings=settings or {},
        now=now,
    )


class EbayKeyServer:
    """eBay's getPublicKey endpoint on 127.0.0.1, real HTTP in a thread.

    Serves keys the way eBay does: the PEM on one line unless told otherwise.
    """

    PREFIX = "/commerce/notification/v1/public_key/"

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.status = 200
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url_template(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.PREFIX}{{kid}}"

    def add_key(
        self, kid: str, private_key: ec.EllipticCurvePrivateKey, *, one_line: bool = True
    ) -> None:
        pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.keys[kid] = pem.replace("\n", "") if one_line else pem

    def reset(self) -> None:
        self.keys.clear()
        self.requests.clear()
        self.status = 200

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append((self.path, self.headers.get("Authorization")))
                kid = unquote(self.path.removeprefix(server.PREFIX))
                if server.status != 200:
                    self._answer(server.status, {"errors": [{"message": "unavailable"}]})
                elif kid not in server.keys:
                    self._answer(404, {"errors": [{"errorId": 195001, "message": "not found"}]})
                else:
                    self._answer(
                        200, {"key": server.keys[kid], "algorithm": "ECDSA", "digest": "SHA1"}
                    )

            def _answer(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep pytest output clean

        return Handler
