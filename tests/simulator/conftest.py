"""A simulator per test, a control client, and a tiny webhook receiver playing the hub."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulator import ChannelSimulator, SimulatorClient


@pytest.fixture
def simulator() -> Iterator[ChannelSimulator]:
    with ChannelSimulator(seed=7) as running:
        yield running


@pytest.fixture
def control(simulator: ChannelSimulator) -> Iterator[SimulatorClient]:
    with SimulatorClient(simulator.url) as client:
        yield client


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class WebhookReceiver:
    """Records every POST and answers ``status`` (200 unless a test changes it)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.deliveries.append(
                    Delivery(
                        path=self.path,
                        headers={name.lower(): value for name, value in self.headers.items()},
                        body=body,
                    )
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/webhooks/store/"

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver().start()
    yield running
    running.stop()
