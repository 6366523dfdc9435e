"""A tiny local HTTP server that answers with Amazon's own documents (the fixtures in
``amazon/``), so the adapter's and the SQS poller's response handling runs over real HTTP
against exactly what Amazon documents, without the simulator's interpretation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .support import document_bytes


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FixtureServer:
    url: str = ""
    # (method, path prefix) -> answers, given in turn (the last one repeats).
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, method: str, prefix: str, *answers: Answer) -> None:
        self.routes[(method, prefix)] = list(answers)

    def fixture(self, method: str, prefix: str, name: str, status: int = 200) -> None:
        self.answer(method, prefix, Answer(status, document_bytes("amazon", name)))

    def local(self, url: str) -> str:
        """A URL of Amazon's (a presigned S3 URL in a fixture) moved onto this server."""
        parts = urlsplit(url)
        return f"{self.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    def requests(self, method: str, prefix: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(prefix)]

    def _find(self, method: str, path: str) -> Answer:
        best = max(
            (prefix for (m, prefix) in self.routes if m == method and path.startswith(prefix)),
            key=len,
            default=None,
        )
        if best is None:
            return Answer(404, b'{"errors": [{"code": "NotFound", "message": "no fixture"}]}')
        answers = self.routes[(method, best)]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@contextmanager
def fixture_server() -> Iterator[FixtureServer]:
    state = FixtureServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            state.seen.append(
                Seen(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
            )
            answer = state._find(self.command, parts.path)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
