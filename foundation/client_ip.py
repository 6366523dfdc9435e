"""The address a request came from, as far as we can trust it.

One answer for the login lockout (django-axes), the failed-token counter and the /metrics
network rule. X-Forwarded-For is read only when TRUSTED_PROXY_COUNT says proxies stand in
front of the app, and then only the entry the nearest trusted proxy wrote: everything
left of it is whatever the client chose to send.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return remote_addr
    # Each proxy appends the address it received from: with N proxies the last N-1 entries
    # name proxies, and the N-th from the end is the client the outermost proxy saw.
    return forwarded[-min(proxies, len(forwarded))]


def came_through_a_proxy(request: HttpRequest) -> bool:
    """True when a forwarding header is present but no proxy is trusted to have set it.

    A proxy on the same host makes every request look like loopback; the headers it adds
    give that away, so a network rule does not mistake the world for localhost.
    """
    if settings.TRUSTED_PROXY_COUNT:
        return False
    meta = request.META
    return "HTTP_X_FORWARDED_FOR" in meta or "HTTP_FORWARDED" in meta or "HTTP_X_REAL_IP" in meta
