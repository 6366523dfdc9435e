"""A simulated Amazon seller's listing attributes: each listing's product type and its
``fulfillment_availability`` attribute, changed the way Amazon documents.

* ``fulfillment_availability`` is a list of entries keyed by ``fulfillment_channel_code``
  (``DEFAULT`` for the seller's own stock, other codes for other fulfilment channels), each
  with ``quantity`` and optional fields such as ``lead_time_to_ship_max_days`` (handling
  time) and ``restock_date``. The ``DEFAULT`` quantity is the store's level
  (``Store.levels``, which orders and the control API move too); everything else lives
  here.
* ``replace`` (and ``add``) sets the whole attribute to the value given: fields and entries
  the value leaves out are gone. Amazon's "Partially update a listing" tutorial: JSON
  patches add, replace or delete entire attributes, patching content within attributes
  is not supported. ``PARTIAL_UPDATE`` feed messages do the same (the feed schema calls
  them equivalent to a PATCH with ``replace``).
* ``merge`` changes only the entries named by their ``fulfillment_channel_code`` (which
  must not be empty) and only the fields given; a new code is added. The "Merge a
  listing" tutorial (developer-docs.amazon.com/sp-api/docs/merge-a-listing): a merge that
  gives the quantity leaves ``restock_date`` and ``lead_time_to_ship_max_days`` as they
  were.
* ``delete`` removes the entries named by their ``fulfillment_channel_code`` (the
  tutorial: attributes are deleted by their selector values, not by name alone).
* Every listing has its own product type (the store's ``product_type`` unless set here).
  A submission naming another is ``INVALID`` with the issue Amazon answers for a product
  type it will not take for the submission, code ``4000003`` "The Amazon product type
  specified is invalid or not supported." (as quoted in amzn/selling-partner-api-models
  issues #2427 and #5241 and selling-partner-api-docs #864). Amazon documents no separate
  answer for a valid product type that differs from the listing's own; this is the
  closest documented one.

Simulator-only routes (like ``_control``), below ``<sim>/amazon/<store>``:
``PUT /_simulator/listings`` ``{"SKU": {"productType"?, "fulfillment_availability"?}}``
sets listings' product types (``null``: Amazon shows none yet, its summaries are empty)
and availability entries (the ``DEFAULT`` quantity included);
``GET /_simulator/listings`` answers the same shape for every listed SKU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.http import Request, Response, json_response
from simulator.kinds.base import Call
from simulator.state import Store

FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"
DEFAULT_CODE = "DEFAULT"
OPS = ("add", "replace", "merge", "delete")
PRODUCT_TYPE_CODE = "4000003"
PRODUCT_TYPE_MESSAGE = "The Amazon product type specified is invalid or not supported."

# (op, entries) changes to fulfillment_availability, validated.
Change = tuple[str, list[dict[str, Any]]]


def issue(message: str, code: str = "INVALID_INPUT") -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "ERROR"}


@dataclass
class ListingBook:
    """A store's listing attributes (kept on the store, see :func:`listing_book`)."""

    product_types: dict[str, str] = field(default_factory=dict)
    # SKU -> channel code -> the entry's fields; DEFAULT's quantity is Store.levels.
    availability: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def listing_book(store: Store) -> ListingBook:
    """The store's :class:`ListingBook`, created on first use."""
    with store.lock:
        book = store.__dict__.get("_amazon_listings")
        if book is None:
            book = store.__dict__["_amazon_listings"] = ListingBook()
        return book


def product_type(store: Store, sku: str) -> str:
    """The listing's product type; "" while Amazon shows none (a listing created minutes
    ago has empty summaries, as amzn/selling-partner-api-models issue #4276 reports)."""
    return listing_book(store).product_types.get(sku, store.product_type)


def product_type_issues(store: Store, sku: str, submitted: Any) -> list[dict[str, Any]]:
    """The issue of a submission naming a product type that is not the listing's."""
    if not submitted:
        return [issue("productType is required.")]
    own = product_type(store, sku)
    if sku in store.levels and own and submitted != own:
        return [{**issue(PRODUCT_TYPE_MESSAGE, code=PRODUCT_TYPE_CODE), "attributeNames": []}]
    return []


# -- patches ------------------------------------------------------------------------------


def availability_changes(patches: Any) -> tuple[list[Change], list[dict[str, Any]]]:
    """The fulfillment_availability changes a list of JSON patches makes, and the issues
    found (patches of other attributes are accepted and not simulated)."""
    if not isinstance(patches, list) or not patches:
        return [], [issue("patches must be a non-empty list.")]
    changes: list[Change] = []
    issues: list[dict[str, Any]] = []
    for patch in patches:
        op = patch.get("op") if isinstance(patch, dict) else patch
        if op not in OPS:
            issues.append(issue(f"Unsupported op {op!r}."))
            continue
        if patch.get("path") != FULFILLMENT_AVAILABILITY:
            continue
        entries, found = _entries(op, patch.get("value"))
        issues.extend(found)
        if not found:
            changes.append((op, entries))
    return changes, issues


def replacement(value: Any) -> tuple[list[Change], list[dict[str, Any]]]:
    """The change a PARTIAL_UPDATE's ``attributes.fulfillment_availability`` makes."""
    entries, issues = _entries("replace", value)
    return ([("replace", entries)] if not issues else []), issues


def _entries(op: str, value: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        return [], [issue("fulfillment_availability must be a list of objects.")]
    for entry in value:
        code = entry.get("fulfillment_channel_code")
        if not isinstance(code, str) or not code:
            return [], [issue(f"{op}: every entry needs a fulfillment_channel_code.")]
        quantity = entry.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
        ):
            return [], [issue(f"fulfillment_availability quantity must be >= 0 ({code}).")]
    if op in ("add", "replace") and not any(
        entry["fulfillment_channel_code"] == DEFAULT_CODE and entry.get("quantity") is not None
        for entry in value
    ):
        return [], [issue("fulfillment_availability needs a DEFAULT quantity >= 0.")]
    return [dict(entry) for entry in value], []


def apply_availability(store: Store, sku: str, changes: list[Change]) -> None:
    """Apply validated changes to a listed SKU (call with ``store.lock`` held)."""
    entries = {entry["fulfillment_channel_code"]: entry for entry in availability(store, sku)}
    for op, value in changes:
        if op in ("add", "replace"):
            entries = {entry["fulfillment_channel_code"]: dict(entry) for entry in value}
        elif op == "merge":
            for entry in value:
                code = entry["fulfillment_channel_code"]
                entries.setdefault(code, {"fulfillment_channel_code": code}).update(entry)
        else:
            for entry in value:
                entries.pop(entry["fulfillment_channel_code"], None)
    default = entries.pop(DEFAULT_CODE, {"fulfillment_channel_code": DEFAULT_CODE})
    store.set_level(sku, int(default.pop("quantity", None) or 0))
    listing_book(store).availability[sku] = {DEFAULT_CODE: default, **entries}


def availability(store: Store, sku: str) -> list[dict[str, Any]]:
    """The listing's fulfillment_availability entries, DEFAULT first (lock held)."""
    kept = listing_book(store).availability.get(sku, {})
    default = {
        **kept.get(DEFAULT_CODE, {}),
        "fulfillment_channel_code": DEFAULT_CODE,
        "quantity": store.levels.get(sku, 0),
    }
    others = [dict(entry) for code, entry in kept.items() if code != DEFAULT_CODE]
    return [default, *others]


# -- simulator-only routes ----------------------------------------------------------------


def configure(store: Store, request: Request, call: Call) -> Response:
    body = request.json()
    if not isinstance(body, dict) or not all(isinstance(v, dict) for v in body.values()):
        return _bad("expected {SKU: {productType?, fulfillment_availability?}}")
    with store.lock:
        unknown = sorted(set(body) - set(store.levels))
        if unknown:
            return _bad(f"not listed: {', '.join(unknown)}")
        for sku, listing in body.items():
            kind = listing.get("productType", "")
            if kind is not None and not isinstance(kind, str):
                return _bad(f"{sku}: productType must be a string (null: none shown yet)")
            changes, issues = replacement(listing.get("fulfillment_availability", []))
            if "fulfillment_availability" in listing and issues:
                return _bad(f"{sku}: {issues[0]['message']}")
        book = listing_book(store)
        for sku, listing in body.items():
            if listing.get("productType"):
                book.product_types[sku] = listing["productType"]
            elif "productType" in listing and listing["productType"] is None:
                book.product_types[sku] = ""
            if "fulfillment_availability" in listing:
                apply_availability(store, sku, replacement(listing["fulfillment_availability"])[0])
    return describe(store, request, call)


def describe(store: Store, request: Request, call: Call) -> Response:
    with store.lock:
        return json_response(
            200,
            {
                sku: {
                    "productType": product_type(store, sku),
                    "fulfillment_availability": availability(store, sku),
                }
                for sku in sorted(store.levels)
            },
        )


def _bad(message: str) -> Response:
    return json_response(400, {"error": "bad_request", "message": message})
