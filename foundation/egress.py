"""Where the hub may send a channel's requests: never to its own network, unless told.

A channel's credentials go to the addresses in its settings. Pointed at loopback, a
private network or a cloud metadata address (169.254.169.254), a push would hand them,
and whatever answers, to a service inside the hub's own network. So every outbound URL a
channel names is resolved, and refused when any address it resolves to is not a public
one, unless ``CHANNEL_ALLOW_PRIVATE_NETWORKS=1`` (the simulator runs on loopback).

The check runs when a channel's settings are saved (``channels.services``) and before
every request the adapters send (``channels.adapters.base``), the eBay key fetch and the
SQS poll. The HTTP client resolves the name again when it connects, so a name whose
answers change between the two (DNS rebinding) is not caught here; the checks at save
time and before each request keep a stored address, or a changed setting, from pointing
inside.

A building block: it reads Django's settings (at call time, so tests can override them)
and imports no app.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

# A name that resolved to public addresses only is believed for this long: a batch of
# pushes does not resolve it once per request. Refusals are never remembered.
GLOBAL_TTL_SECONDS = 60.0
_global_until: dict[str, float] = {}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(ValueError):
    """The URL may not be called: not http(s), or its host is inside the hub's network."""


class EgressUnresolved(EgressRefused):
    """The URL's host does not resolve (now): nothing can be said about where it points."""


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "CHANNEL_ALLOW_PRIVATE_NETWORKS", False))


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local,
    reserved, multicast, unspecified or shared (100.64/10), also inside an IPv6 mapping."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def url_host(url: str) -> str:
    """The host (and port) of a URL, without any user:password part: what an audit line
    or an error message may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def check_url_shape(url: str) -> None:
    """An absolute http(s) URL with a host, or EgressRefused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise EgressRefused(f"refused: {url!r:.100} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused(f"refused: {url!r:.100} is not an http:// or https:// URL")


def check_outbound_url(url: str) -> None:
    """Raise EgressRefused unless a request to ``url`` may leave the hub.

    Every address the host resolves to must be public; with
    ``CHANNEL_ALLOW_PRIVATE_NETWORKS`` on, only the URL's shape is checked. A host that
    does not resolve raises EgressUnresolved (the request could not be sent anyway)."""
    check_url_shape(url)
    if private_networks_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _global_until.get(host, 0.0) > time.monotonic():
        return
    for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not is_public(address):
            raise EgressRefused(
                f"refused: {host} resolves to a private address ({address}); "
                "set CHANNEL_ALLOW_PRIVATE_NETWORKS=1 to allow it"
            )
    if len(_global_until) > 1024:
        _global_until.clear()
    _global_until[host] = time.monotonic() + GLOBAL_TTL_SECONDS


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EgressUnresolved(f"refused: {host} does not resolve ({exc})") from None
    # An IPv6 answer may carry a zone ("fe80::1%eth0"): the address is what counts.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in answers]
