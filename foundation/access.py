"""Who may read operational detail: /metrics, and the full /healthz.

/metrics answers a request with the metrics token (`Authorization: Bearer <METRICS_TOKEN>`)
or one from METRICS_ALLOWED_NETWORKS (default: loopback, where a local Prometheus scrapes).
/healthz tells anyone ok or degraded, and adds hosts, ports and error texts only for the
metrics token or a logged-in staff user.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest

from .client_ip import came_through_a_proxy, client_ip


def has_metrics_token(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def from_metrics_network(request: HttpRequest) -> bool:
    if came_through_a_proxy(request):
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # ::ffff:127.0.0.1 from a dual-stack bind
        address = address.ipv4_mapped
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


def may_read_metrics(request: HttpRequest) -> bool:
    return has_metrics_token(request) or from_metrics_network(request)


def may_read_health_detail(request: HttpRequest) -> bool:
    """Hosts, ports and error texts are for operators, not for whoever asks."""
    if has_metrics_token(request):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)
