"""Middleware of our own: requests no view can serve are refused first
(`RefuseNulCharacters`), and machine-to-machine URLs do not run the middleware of the
pages people use (`MachineEndpointsMiddleware`).

Machine endpoints:

A channel's webhook needs no session, user, messages, CSRF token (the view is exempt:
the signature is the credential), htmx details, Content-Security-Policy header or login
lockout, and in a flash sale each of those is paid thousands of times a second. This
middleware sits right after Django's SecurityMiddleware (so HTTPS redirects and HSTS
still apply) and hands those paths straight to their view; every other path goes down
the whole chain as usual.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve

from .errors import error_body

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


NUL_MESSAGE = "Null characters are not allowed."


class RefuseNulCharacters:
    """A NUL character in the path or the query string is a 400.

    Codes and filters from the URL go to the database, and PostgreSQL cannot hold a NUL
    in text (a lookup of `/api/v1/skus/A%00B/` or `?search=%00` would be a 500). No
    legitimate client sends one, so one check here spares every view and selector. The
    API answers in its error shape; the pages answer plain text.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            return self.refuse(request)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            fields = ["path"]
        else:
            fields = sorted(
                {
                    name.replace("\x00", "\\x00")[:100]
                    for name, values in request.GET.lists()
                    if "\x00" in name or any("\x00" in value for value in values)
                }
            ) or ["query"]
        message = f"{fields[0]}: {NUL_MESSAGE}"
        if not request.path_info.startswith("/api/"):
            return HttpResponseBadRequest(message, content_type="text/plain")
        detail = {field: [NUL_MESSAGE] for field in fields}
        return JsonResponse(error_body("invalid", message, detail), status=400)
