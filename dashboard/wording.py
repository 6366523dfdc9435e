"""Turning what machines recorded into words a person can act on."""

from __future__ import annotations

import re

_STATUS = re.compile(r"(?:HTTP|status(?: code)?)[^0-9]{0,3}([1-5]\d\d)\b", re.IGNORECASE)


def push_error_in_words(raw: str) -> str:
    """What a push's recorded error means, in one sentence (the raw text stays available
    behind a disclosure on the page)."""
    text = (raw or "").strip()
    if not text:
        return "No error was recorded."
    lower = text.lower()
    match = _STATUS.search(text)
    status = int(match.group(1)) if match else None
    if "revision budget" in lower:
        return (
            "The channel limits how often a listing may be revised (eBay: 250 times a day) "
            "and this listing's budget is spent: the push waits, it is not failing."
        )
    if lower.startswith(("deferred", "held")) or "budget" in lower:
        return (
            "The hub is pacing its requests to stay within the channel's rate limit: the "
            "push waits its turn."
        )
    if "base_url" in lower:
        return "The channel has no address (base URL) set: edit the channel's settings."
    if status in (401, 403) or any(w in lower for w in ("unauthori", "forbidden", "credential")):
        return (
            "The channel refused the hub's credentials: check the channel's API key or token "
            "(an Admin can change them on the channel's settings)."
        )
    if status == 404 or "not found" in lower or "unknown sku" in lower:
        return (
            "The channel does not know this listing: check the SKU exists on the channel, or "
            "map the channel's id for it."
        )
    if status == 429 or "throttl" in lower or "rate limit" in lower or "too many" in lower:
        return (
            "The channel kept asking the hub to slow down (rate limited) until the retries ran out."
        )
    if "timed out" in lower or "timeout" in lower:
        return "The channel did not answer in time, on every attempt."
    if status is not None and status >= 500 or "unavailable" in lower:
        return "The channel's server kept failing (an outage on its side, HTTP 5xx)."
    if any(w in lower for w in ("connect", "refused", "unreachable", "name or service")):
        return "The hub could not reach the channel (the connection was refused or dropped)."
    if "unconfirmed" in lower or "read back" in lower or "shows" in lower:
        return "The channel accepted the quantity but kept showing another number when read back."
    if status in (400, 409, 422) or "rejected" in lower or "invalid" in lower:
        return "The channel refused the request as invalid; retrying the same push will not help."
    first = text.splitlines()[0]
    return f"The push kept failing: {first[:160]}{'…' if len(first) > 160 else ''}"
