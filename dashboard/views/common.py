"""What every dashboard view shares: page sizes, the htmx partial test, the status of a
form that was not accepted, and small wording helpers."""

from __future__ import annotations

from django.http import HttpRequest

PAGE_SIZE = 50
HISTORY_LIMIT = 100
# A form that was not accepted answers 422 (htmx is configured in base.html to swap it),
# so scripts and tests can tell "nothing was written" from the status alone.
NOT_ACCEPTED = 422


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request swapping part of the page; a history restore needs the full page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def units(quantity: int) -> str:
    return f"{quantity} unit" if abs(quantity) == 1 else f"{quantity} units"
