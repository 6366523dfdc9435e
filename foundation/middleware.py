"""Machine-to-machine URLs do not run the middleware of the pages people use.

A channel's webhook needs no session, user, messages, CSRF token (the view is exempt:
the signature is the credential), htmx details, Content-Security-Policy header or login
lockout, and in a flash sale each of those is paid thousands of times a second. This
middleware sits right after Django's SecurityMiddleware (so HTTPS redirects and HSTS
still apply) and hands those paths straight to their view; every other path goes down
the whole chain as usual.
"""

from __future__ import annotations

from django.urls import Resolver404, resolve

MACHINE_PREFIXES = ("/webhooks/",)


class MachineEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(MACHINE_PREFIXES):
            return self.get_response(request)
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response = response.render()
        return response
