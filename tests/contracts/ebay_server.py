"""eBay on 127.0.0.1, answering with the documents in tests/contracts/ebay/ (real HTTP in
a thread): what the contract tests replay against the verifier and the adapter."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .support import document_bytes

ORDER_ID = "07-13982-55102"
# getOffers answers by SKU: published, unpublished, and one eBay calls invalid (400).
OFFERS = {
    "MUG-BLUE": (200, "get_offers_published.json"),
    "TEE-S": (200, "get_offers_unpublished.json"),
}


class EbayDocuments:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        # What the identity endpoint answers a refresh-token grant.
        self.refresh_answer = (200, "oauth_refresh_token_success.json")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> EbayDocuments:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: bytes):
        if method == "POST" and path == "/identity/v1/oauth2/token":
            grant = parse_qs(body.decode()).get("grant_type", [""])[0]
            if grant == "refresh_token":
                return self.refresh_answer
            return 200, "oauth_client_credentials_success.json"
        if method == "GET" and path == "/sell/inventory/v1/offer":
            return OFFERS.get(query.get("sku", [""])[0], (400, "get_offers_invalid_sku.json"))
        if method == "POST" and path == "/sell/inventory/v1/bulk_update_price_quantity":
            return 207, "bulk_update_price_quantity_partial.json"
        if method == "POST" and path == "/sell/inventory/v1/bulk_get_inventory_item":
            return 207, "bulk_get_inventory_item.json"
        if method == "GET" and path == f"/sell/fulfillment/v1/order/{ORDER_ID}":
            return 200, "get_order.json"
        if method == "GET" and path.startswith("/commerce/notification/v1/public_key/"):
            return 200, "public_key.json"
        return 404, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status, name = server.answer(self.command, parts.path, parse_qs(parts.query), body)
                payload = document_bytes("ebay", name) if name else json.dumps({}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
