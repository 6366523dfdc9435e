"""One permission check for the API and the dashboard: every view names, per HTTP method,
the model permissions it needs (`foundation.roles` says which roles have them).

A view with no rule for a method refuses it (fail closed), and the permission-matrix
test walks the URL configuration and fails on any view that has no rule. Anonymous
callers get 401 from the API (403 with a session) and the login page from the dashboard;
signed-in callers without the permission get 403 from both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from rest_framework.permissions import BasePermission

# A rule: HTTP method -> the permissions it needs (all of them). HEAD and OPTIONS follow
# GET. PUBLIC marks the few endpoints open to anyone (they say why where they are).
Rule = Mapping[str, tuple[str, ...] | str]
PUBLIC = "public"


def required_for(rule: Rule | str | None, method: str) -> tuple[str, ...] | None:
    """The permissions `method` needs under `rule`; None when the rule does not allow it."""
    if rule is None:
        return None
    if rule == PUBLIC:
        return ()
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    needed = rule.get(method)
    if needed is None:
        return None
    return (needed,) if isinstance(needed, str) else tuple(needed)


class RolePermission(BasePermission):
    """DRF's check: the view's `required_permissions` for this method, all of them."""

    message = "Your role does not allow this. Ask an administrator for the permission."

    def has_permission(self, request, view) -> bool:
        needed = required_for(getattr(view, "required_permissions", None), request.method)
        if needed is None:
            # A method the view does not answer gets its 405 from DRF; one it answers
            # without a rule is refused.
            return not hasattr(view, request.method.lower())
        if needed == ():
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(needed))


def requires(rule: Rule) -> Callable:
    """The dashboard's check, for a function view: the login page for anonymous
    visitors, 403 for a signed-in person whose role lacks the permission."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            needed = required_for(rule, request.method)
            if needed is None:
                return HttpResponseNotAllowed(sorted(rule))
            if not request.user.has_perms(needed):
                raise PermissionDenied(RolePermission.message)
            return view(request, *args, **kwargs)

        guarded.required_permissions = rule
        return guarded

    return decorate
