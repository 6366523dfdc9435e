"""Guessing credentials is slow: a login lockout for people and a failure throttle for tokens.

The login form and the admin are guarded by django-axes (settings: AXES_*). API tokens are
guarded here: wrong tokens are counted per client address in the shared cache, and past
AUTH_TOKEN_FAILURE_LIMIT within the window a wrong token gets 429 instead of 401.
"""

from __future__ import annotations

import logging

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from .client_ip import client_ip

logger = logging.getLogger(__name__)


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for logins that come with a request.

    Every login over HTTP (the login page, the admin) passes its request. A call without
    one (a shell, a management command, the test client's login()) has no client address
    to lock out, and axes would refuse it with an error instead of checking the password.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF token authentication that makes guessing tokens from one address slow.

    Only failures touch the cache: a valid token costs the normal lookup and nothing more.
    A throttled address still gets in with a valid token, so a guesser sharing a proxy or
    a NAT with a real client does not lock that client out.
    """

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed as failure:
            failures = token_failure_counted(client_ip(request))
            if failures > settings.AUTH_TOKEN_FAILURE_LIMIT:
                raise Throttled(
                    wait=settings.AUTH_TOKEN_FAILURE_WINDOW_SECONDS,
                    detail="Too many requests with a wrong token from this address.",
                ) from failure
            raise


def token_failure_counted(address: str) -> int:
    """Count one more wrong token from `address`; return the count within the window.

    A fixed window that starts with the first failure. Redis increments atomically; the
    file cache of the embedded default may lose a count under a race, which only makes
    the limit a little softer.
    """
    key = token_failure_key(address)
    window = settings.AUTH_TOKEN_FAILURE_WINDOW_SECONDS
    try:
        cache.add(key, 0, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # the window ended between add and incr
            cache.set(key, 1, timeout=window)
            return 1
    except Exception:  # noqa: BLE001 - a cache outage must not turn a 401 into a 500
        logger.warning("could not count a failed API token (cache unavailable)", exc_info=True)
        return 0


def token_failure_key(address: str) -> str:
    return f"auth-token-failures:{address}"
