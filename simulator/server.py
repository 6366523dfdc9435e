"""The HTTP server: routes ``<sim>/<kind>/<store>/...`` to the kind's API and
``<sim>/_control/...`` to the control API, applying faults and rate limits on the way.

Order of checks for a channel API call (control calls are never faulted). Faults play
the infrastructure in front of the channel, so they come before its own checks:

1. count the request (reads / writes by route);
2. ``latency_ms`` sleep;
3. ``outage``: 503 in the channel's error shape;
4. ``timeout``: hang, then 504 (clearing faults or stopping releases the request);
5. ``error_rate``: the configured ``status`` (a 429 gets ``Retry-After: retry_after``);
6. authentication (the channel's own 401/403);
7. the store's token bucket: over the limit is a 429 with Retry-After and counts as a
   rate-limit violation (Shopify meters its GraphQL cost inside the handler instead);
8. the handler; with ``drop_writes`` it answers success without applying.

Auxiliary endpoints (LWA token, SQS queue, eBay public key) skip steps 2-7.

:class:`ChannelSimulator` runs the server on a background thread (tests, the demo) or in
the foreground (``manage.py simulate_channels``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from simulator.control import Control
from simulator.http import HttpError, Request, Response, format_seconds, json_response
from simulator.kinds import KINDS, KindApi
from simulator.kinds.base import Call, Route
from simulator.state import NO_FAULTS, SimulatorState, Store

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024


class SimulatorApp:
    """Request in, response out: no sockets here."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.control = Control(state)

    def handle(self, request: Request) -> Response:
        segments = request.segments
        if segments[:1] == ["_control"]:
            return self.control.handle(request, segments[1:])
        if len(segments) < 2 or segments[0] not in KINDS:
            return json_response(
                404,
                {
                    "error": "not_found",
                    "message": "paths are /<kind>/<store>/... or /_control/...; kinds: "
                    + ", ".join(sorted(KINDS)),
                },
            )
        api = KINDS[segments[0]]
        store = self.state.store(segments[1])
        if store is None or store.kind != api.kind:
            return api.error(404, f"There is no {api.kind} store {segments[1]!r}.")
        matched = api.route(request.method, segments[2:])
        if matched is None:
            return api.error(404, "No route was found matching the URL and request method.")
        route, params = matched
        call = Call(simulator=self.state, faults=NO_FAULTS, params=params)
        operation = route.operation_for(request)
        with store.lock:
            store.stats.requests += 1
            if operation == "read":
                store.stats.reads += 1
            elif operation == "write":
                store.stats.writes += 1
        response = self._call(api, store, route, request, call, operation)
        with store.lock:
            store.log.append(
                {
                    "at": time.time(),
                    "method": request.method,
                    "path": "/" + "/".join(segments[2:]),
                    "operation": operation,
                    "status": response.status,
                    "items": call.items,
                }
            )
        return response

    def _call(
        self,
        api: KindApi,
        store: Store,
        route: Route,
        request: Request,
        call: Call,
        operation: str,
    ) -> Response:
        if operation == "aux":
            if route.authenticated:
                denied = api.authenticate(store, request)
                if denied is not None:
                    return denied
            return self._run(api, store, route, request, call)
        faults = self.state.faults_for(store.name)
        call.faults = faults
        if faults.latency_ms:
            self.state.sleep(faults.latency_ms / 1000)
        if faults.outage:
            self._injected(store)
            return api.error(503, "Service temporarily unavailable (simulated outage).")
        if faults.timeout:
            self._injected(store)
            self.state.sleep(faults.timeout)
            return api.error(504, "Gateway timeout (simulated).")
        if faults.error_rate and self.state.chance(faults.error_rate):
            self._injected(store)
            response = api.error(faults.status, f"Simulated failure ({faults.status}).")
            if faults.status == 429:
                response.headers["Retry-After"] = format_seconds(faults.retry_after or 1.0)
            return response
        if route.authenticated:
            denied = api.authenticate(store, request)
            if denied is not None:
                return denied
        if route.bucket is not None:
            wait = store.buckets[route.bucket].take()
            if wait is not None:
                with store.lock:
                    store.stats.rate_limit_violations += 1
                return api.throttled(store, route.bucket, wait)
        return self._run(api, store, route, request, call)

    @staticmethod
    def _run(api: KindApi, store: Store, route: Route, request: Request, call: Call) -> Response:
        try:
            return route.handler(store, request, call)
        except HttpError as exc:
            return exc.response
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # The handlers validate the shapes the hub sends; anything stranger (a list
            # where an object belongs...) ends here as the channel's 400, not a 500.
            logger.info("simulator: malformed %s request", api.kind, exc_info=True)
            return api.error(400, f"Malformed request: {type(exc).__name__}: {exc}")

    @staticmethod
    def _injected(store: Store) -> None:
        with store.lock:
            store.stats.faults_injected += 1


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "InventoryHubChannelSimulator/1.0"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._write(json_response(400, {"error": "bad_request", "message": str(exc)}))
            return
        split = urlsplit(self.path)
        path = split.path.strip("/")
        segments = [unquote(segment) for segment in path.split("/")] if path else []
        headers = dict(self.headers)
        if not self.headers.get("Host"):
            host, port = self.server.server_address[:2]
            headers["Host"] = f"{host}:{port}"
        request = Request.build(self.command, segments, split.query, headers, body)
        try:
            response = self.server.app.handle(request)
        except Exception:
            logger.exception("simulator: %s %s failed", self.command, self.path)
            response = json_response(500, {"error": "simulator_error", "message": "see log"})
        self._write(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired during a simulated hang).
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("simulator: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SimulatorApp) -> None:
        super().__init__(address, _RequestHandler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class ChannelSimulator:
    """The channel simulator as an object: ``ChannelSimulator(port=0).start()`` serves on a
    free loopback port in a background thread; ``.url`` is its root; ``.stop()`` ends it.
    The socket is bound in the constructor, so ``.url`` is known before ``start()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int | None = None,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.state = SimulatorState(seed=seed, webhook_timeout=webhook_timeout)
        self.app = SimulatorApp(self.state)
        self._server = _Server((host, port), self.app)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = str(host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def create_store(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a store in-process; ``spec`` and the answer are those of
        ``POST /_control/stores``. Raises ValueError when the spec is invalid."""
        try:
            store = self.app.control.build_store(spec)
        except HttpError as exc:
            raise ValueError(exc.response.body.decode()) from None
        self.state.put_store(store)
        return self.app.control.describe(store, self.url)

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # How soon stop() is noticed; tests start and stop a simulator per test.
            kwargs={"poll_interval": 0.02},
            name="channel-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted, then clean up."""
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self.state.close()
            self._release_sockets()

    def stop(self) -> None:
        # Wake hung requests and long polls first so that shutdown does not wait on them.
        self.state.close()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._release_sockets()

    def _release_sockets(self) -> None:
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
