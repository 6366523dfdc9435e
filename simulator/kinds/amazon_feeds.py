"""Simulated SP-API Feeds 2021-06-30 (``JSON_LISTINGS_FEED``) and the S3 side of its documents.

Below ``<sim>/amazon/<store>``, wired up by :class:`simulator.kinds.amazon.AmazonApi`:

* ``POST /feeds/2021-06-30/documents`` ``{"contentType"}`` (createFeedDocument): 201
  ``{"feedDocumentId", "url"}``; ``url`` is a presigned-style upload URL on the simulator.
* ``PUT <url>``: the document's content. This plays S3: no SP-API token, the signature in
  the URL is the key, never faulted or metered.
* ``POST /feeds/2021-06-30/feeds`` ``{"feedType": "JSON_LISTINGS_FEED", "marketplaceIds",
  "inputFeedDocumentId"}`` (createFeed): 202 ``{"feedId"}``. The request log counts the
  feed's messages as its items.
* ``GET /feeds/2021-06-30/feeds/<feedId>`` (getFeed): ``processingStatus`` ``IN_QUEUE``, then
  ``IN_PROGRESS``, then ``DONE`` (or ``FATAL`` for a document that is not a valid listings
  feed), with ``resultFeedDocumentId`` once it is over. The feed is applied when it is due,
  whether or not anybody polls.
* ``GET /feeds/2021-06-30/documents/<id>`` (getFeedDocument): ``{"feedDocumentId", "url"}``,
  plus ``"compressionAlgorithm": "GZIP"`` for a large processing report.
* ``GET <url>``: the document. A processing report is the JSON of Amazon's listings feed
  processing report v2: ``header``, ``issues`` (per message: ``messageId``, ``sku``,
  ``code``, ``severity``, ``message``) and ``summary``.
* ``PUT|GET /_simulator/feeds`` (simulator only, like ``_control``): how long a store's
  feeds stay ``IN_QUEUE`` and then ``IN_PROGRESS``: ``{"queue_seconds",
  "processing_seconds"}``.

Messages: ``PATCH`` with patches on ``/attributes/fulfillment_availability`` (what
patchListingsItem takes: ``merge`` keeps what it does not name, ``replace`` does not) and
``PARTIAL_UPDATE`` with ``attributes.fulfillment_availability`` (a ``replace``) change the
listing's availability (see :mod:`simulator.kinds.amazon_listings`); an unknown SKU, a bad
shape or a product type that is not the listing's is an ``ERROR`` issue for that message
only. With the ``drop_writes`` fault in force at createFeed, the report says every
valid message was accepted but nothing is applied (as patchListingsItem answers ACCEPTED).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator.http import Request, Response, json_response
from simulator.kinds.amazon_listings import (
    apply_availability,
    availability_changes,
    issue,
    product_type_issues,
    replacement,
)
from simulator.kinds.base import Call
from simulator.state import Store, now

FEED_TYPE = "JSON_LISTINGS_FEED"
MAX_MESSAGES = 25_000
DEFAULT_QUEUE_SECONDS = 0.2
DEFAULT_PROCESSING_SECONDS = 0.5
# Documents (a feed's is up to a few MB) and feeds a store remembers; the oldest go first.
KEEP_DOCUMENTS = 50
KEEP_FEEDS = 200
# Processing reports above this size are served gzip-compressed.
COMPRESS_ABOVE = 16 * 1024
NOT_FOUND_CODE = "4000004"

ErrorFactory = Callable[[int, str, str], Response]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FeedDocument:
    document_id: str
    content_type: str
    # The presigned URL's signature.
    signature: str
    content: bytes | None = None
    compressed: bool = False


@dataclass
class Feed:
    feed_id: str
    marketplace_ids: list[str]
    document_id: str
    created_at: datetime
    # time.monotonic() moments: processing starts, and ends.
    starts: float
    due: float
    drop_writes: bool
    status: str = "IN_QUEUE"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result_document_id: str = ""

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": FEED_TYPE,
            "marketplaceIds": self.marketplace_ids,
            "createdTime": _iso(self.created_at),
            "processingStatus": self.status,
        }
        if self.started_at is not None:
            answer["processingStartTime"] = _iso(self.started_at)
        if self.ended_at is not None:
            answer["processingEndTime"] = _iso(self.ended_at)
        if self.result_document_id:
            answer["resultFeedDocumentId"] = self.result_document_id
        return answer


@dataclass
class FeedBook:
    """A store's feed documents and feeds (kept on the store, see :func:`feed_book`)."""

    queue_seconds: float = DEFAULT_QUEUE_SECONDS
    processing_seconds: float = DEFAULT_PROCESSING_SECONDS
    documents: OrderedDict[str, FeedDocument] = field(default_factory=OrderedDict)
    feeds: OrderedDict[str, Feed] = field(default_factory=OrderedDict)
    sequence: int = 0

    def remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        keep = KEEP_DOCUMENTS if table is self.documents else KEEP_FEEDS
        while len(table) > keep:
            table.popitem(last=False)


def feed_book(store: Store) -> FeedBook:
    """The store's :class:`FeedBook`, created on first use (a replaced store starts afresh)."""
    with store.lock:
        book = store.__dict__.get("_amazon_feeds")
        if book is None:
            book = store.__dict__["_amazon_feeds"] = FeedBook()
        return book


class FeedsApi:
    """Route handlers of the Feeds API; ``error`` builds SP-API's error answer."""

    def __init__(self, error: ErrorFactory) -> None:
        self.error = error

    # -- documents ------------------------------------------------------------------------

    def create_document(self, store: Store, request: Request, call: Call) -> Response:
        body = request.json()
        content_type = body.get("contentType") if isinstance(body, dict) else None
        if not isinstance(content_type, str) or not content_type:
            return self.error(400, "Missing required 'contentType'.", "InvalidInput")
        book = feed_book(store)
        document = FeedDocument(
            document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}",
            content_type=content_type,
            signature=secrets.token_hex(16),
        )
        with store.lock:
            book.remember(book.documents, document.document_id, document)
        return json_response(
            201,
            {
                "feedDocumentId": document.document_id,
                "url": self._url(store, request, document),
            },
        )

    def get_document(self, store: Store, request: Request, call: Call) -> Response:
        book = feed_book(store)
        with store.lock:
            document = book.documents.get(call.params["document"])
        if document is None:
            return self.error(404, "The feed document does not exist.", "NotFound")
        answer = {
            "feedDocumentId": document.document_id,
            "url": self._url(store, request, document),
        }
        if document.compressed:
            answer["compressionAlgorithm"] = "GZIP"
        return json_response(200, answer)

    @staticmethod
    def _url(store: Store, request: Request, document: FeedDocument) -> str:
        return (
            f"{request.root_url}/amazon/{store.name}/_s3/feed-documents/"
            f"{document.document_id}?X-Amz-Signature={document.signature}"
        )

    def _signed_document(self, store: Store, request: Request, call: Call) -> FeedDocument:
        with store.lock:
            document = feed_book(store).documents.get(call.params["document"])
        if document is None or not secrets.compare_digest(
            request.param("X-Amz-Signature") or "", document.signature
        ):
            raise _S3Denied
        return document

    def upload(self, store: Store, request: Request, call: Call) -> Response:
        try:
            document = self._signed_document(store, request, call)
        except _S3Denied:
            return _s3_denied()
        with store.lock:
            if document.content is not None:
                # The presigned URL is for one upload; Amazon's expires after 5 minutes.
                return _s3_denied("The feed document was already uploaded.")
            document.content = request.body
        return Response(status=200, headers={"ETag": f'"{uuid.uuid4().hex}"'})

    def download(self, store: Store, request: Request, call: Call) -> Response:
        try:
            document = self._signed_document(store, request, call)
        except _S3Denied:
            return _s3_denied()
        with store.lock:
            content = document.content
        if content is None:
            return _s3_denied("The document has no content yet.", status=404)
        return Response(
            status=200,
            body=content,
            headers={
                "Content-Type": "application/octet-stream"
                if document.compressed
                else document.content_type
            },
        )

    # -- feeds ----------------------------------------------------------------------------

    def create_feed(self, store: Store, request: Request, call: Call) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "The request body must be a CreateFeedSpecification.")
        feed_type = body.get("feedType")
        marketplaces = body.get("marketplaceIds")
        document_id = body.get("inputFeedDocumentId")
        if feed_type != FEED_TYPE:
            return self.error(400, f"The simulator only processes {FEED_TYPE} (got {feed_type!r}).")
        if (
            not isinstance(marketplaces, list)
            or not 1 <= len(marketplaces) <= 25
            or not all(isinstance(m, str) and m for m in marketplaces)
        ):
            return self.error(400, "marketplaceIds must list 1 to 25 marketplace ids.")
        book = feed_book(store)
        with store.lock:
            document = book.documents.get(str(document_id))
            if document is None:
                return self.error(400, f"Unknown inputFeedDocumentId {document_id!r}.")
            content = document.content
            book.sequence += 1
            moment = time.monotonic()
            feed = Feed(
                feed_id=str(50_000_000_000 + book.sequence),
                marketplace_ids=list(marketplaces),
                document_id=document.document_id,
                created_at=now(),
                starts=moment + book.queue_seconds,
                due=moment + book.queue_seconds + book.processing_seconds,
                drop_writes=call.drop_writes,
            )
            book.remember(book.feeds, feed.feed_id, feed)
        call.items = _message_count(content)
        self._finish_when_due(store, call, feed)
        return json_response(202, {"feedId": feed.feed_id})

    def get_feed(self, store: Store, request: Request, call: Call) -> Response:
        book = feed_book(store)
        with store.lock:
            feed = book.feeds.get(call.params["feed"])
            if feed is None:
                return self.error(404, "The feed does not exist.", "NotFound")
            advance(store, feed)
            return json_response(200, feed.describe())

    @staticmethod
    def _finish_when_due(store: Store, call: Call, feed: Feed) -> None:
        """Process the feed when it is due, polled or not; nothing once the simulator stops."""
        stopping = call.simulator.stopping

        def finish() -> None:
            if stopping.wait(max(0.0, feed.due - time.monotonic())):
                return
            with store.lock:
                advance(store, feed)

        threading.Thread(target=finish, name=f"amazon-feed-{feed.feed_id}", daemon=True).start()

    # -- simulator settings ---------------------------------------------------------------

    def configure(self, store: Store, request: Request, call: Call) -> Response:
        body = request.json()
        fields = {"queue_seconds", "processing_seconds"}
        try:
            if not isinstance(body, dict) or set(body) - fields:
                raise ValueError
            values = {key: float(value) for key, value in body.items()}
            if any(value < 0 for value in values.values()):
                raise ValueError
        except (TypeError, ValueError):
            return json_response(
                400,
                {
                    "error": "bad_request",
                    "message": "expected queue_seconds and/or processing_seconds, numbers >= 0",
                },
            )
        book = feed_book(store)
        with store.lock:
            for key, value in values.items():
                setattr(book, key, value)
        return self.describe(store, request, call)

    def describe(self, store: Store, request: Request, call: Call) -> Response:
        book = feed_book(store)
        with store.lock:
            for feed in book.feeds.values():
                advance(store, feed)
            return json_response(
                200,
                {
                    "queue_seconds": book.queue_seconds,
                    "processing_seconds": book.processing_seconds,
                    "feeds": [feed.describe() for feed in book.feeds.values()],
                },
            )


class _S3Denied(Exception):
    pass


def _s3_denied(
    message: str = "Request has expired or the signature does not match.", *, status: int = 403
) -> Response:
    code = "AccessDenied" if status == 403 else "NoSuchKey"
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(status=status, body=body.encode(), headers={"Content-Type": "application/xml"})


def _message_count(content: bytes | None) -> int | None:
    try:
        messages = json.loads(content or b"").get("messages")
    except (ValueError, AttributeError):
        return None
    return len(messages) if isinstance(messages, list) else None


# -- processing ---------------------------------------------------------------------------


def advance(store: Store, feed: Feed) -> None:
    """Bring ``feed`` to the status it has by now, processing it when it is due.

    Call with ``store.lock`` held; processing happens once."""
    if feed.status not in ("IN_QUEUE", "IN_PROGRESS"):
        return
    moment = time.monotonic()
    if moment < feed.starts:
        return
    if feed.started_at is None:
        feed.status, feed.started_at = "IN_PROGRESS", now()
    if moment < feed.due:
        return
    book = feed_book(store)
    document = book.documents.get(feed.document_id)
    content = document.content if document is not None else None
    fatal, messages = _parse(store, content)
    if fatal:
        feed.status = "FATAL"
        report = _report(store, feed, [{"code": "FATAL", "severity": "ERROR", "message": fatal}], 0)
    else:
        feed.status = "DONE"
        issues: list[dict[str, Any]] = []
        accepted = 0
        seen: set[int] = set()
        for message in messages:
            found = _apply(store, feed, message, seen)
            issues.extend(found)
            accepted += not found
        report = _report(store, feed, issues, len(messages), accepted)
    feed.ended_at = now()
    content = json.dumps(report).encode()
    result = FeedDocument(
        document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}",
        content_type="application/json",
        signature=secrets.token_hex(16),
    )
    if len(content) > COMPRESS_ABOVE:
        result.content, result.compressed = gzip.compress(content), True
    else:
        result.content = content
    book.remember(book.documents, result.document_id, result)
    feed.result_document_id = result.document_id


def _parse(store: Store, content: bytes | None) -> tuple[str, list[Any]]:
    """(fatal error, messages) of a feed document."""
    if content is None:
        return "The feed document was not uploaded before the feed was created.", []
    try:
        document = json.loads(content)
    except ValueError as exc:
        return f"The feed document is not valid JSON: {exc}", []
    if not isinstance(document, dict):
        return "The feed document must be a JSON object with header and messages.", []
    header = document.get("header")
    if not isinstance(header, dict) or header.get("version") != "2.0":
        return "The feed header must have version '2.0'.", []
    if not header.get("sellerId") or not store.accepts_seller(str(header["sellerId"])):
        return f"The feed's sellerId {header.get('sellerId')!r} is not this seller.", []
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return f"messages must hold 1 to {MAX_MESSAGES} messages.", []
    return "", messages


def _apply(store: Store, feed: Feed, message: Any, seen: set[int]) -> list[dict[str, Any]]:
    """Validate and apply one message; its issues (empty: accepted)."""
    if not isinstance(message, dict):
        return [issue("A message must be an object.")]
    message_id = message.get("messageId")
    sku = message.get("sku")
    tag: dict[str, Any] = {"messageId": message_id}
    if isinstance(sku, str) and sku:
        tag["sku"] = sku
    if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id < 1:
        return [{**tag, **issue("messageId must be an integer >= 1.")}]
    if message_id in seen:
        return [{**tag, **issue(f"messageId {message_id} is not unique in the feed.")}]
    seen.add(message_id)
    if not isinstance(sku, str) or not sku:
        return [{**tag, **issue("sku is required.")}]
    operation = message.get("operationType")
    issues: list[dict[str, Any]] = []
    changes: list[Any] = []
    if operation not in ("PATCH", "PARTIAL_UPDATE"):
        issues.append(issue(f"operationType {operation!r} is not supported by the simulator."))
    elif issues := product_type_issues(store, sku, message.get("productType")):
        pass
    elif operation == "PATCH":
        changes, issues = availability_changes(message.get("patches"))
    else:
        attributes = message.get("attributes")
        value = attributes.get("fulfillment_availability") if isinstance(attributes, dict) else None
        changes, issues = replacement(value)
    if sku not in store.levels:
        issues.append(issue(f"SKU '{sku}' not found for seller.", code=NOT_FOUND_CODE))
    if issues:
        return [{**tag, **found} for found in issues]
    if changes:
        if feed.drop_writes:
            store.stats.writes_dropped += 1
        else:
            apply_availability(store, sku, changes)
    return []


def _report(
    store: Store,
    feed: Feed,
    issues: list[dict[str, Any]],
    processed: int,
    accepted: int = 0,
) -> dict[str, Any]:
    errors = sum(1 for found in issues if found.get("severity") == "ERROR")
    return {
        "header": {"sellerId": store.seller_id, "version": "2.0", "feedId": feed.feed_id},
        "issues": issues,
        "summary": {
            "errors": errors,
            "warnings": len(issues) - errors,
            "messagesProcessed": processed,
            "messagesAccepted": accepted,
            "messagesInvalid": processed - accepted,
        },
    }
