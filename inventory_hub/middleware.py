"""Requests no view can serve, refused before any view sees them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from .errors import error_body

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
