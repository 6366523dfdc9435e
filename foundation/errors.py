"""One error shape for the whole API: {"error": code, "message": text, "detail": {...}}.

Serializers raise DRF validation errors (400), services raise `DomainError`
subclasses; `api_exception_handler` maps both to the same JSON body.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A business rule refused the operation; nothing was written."""

    code = "domain_error"
    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DomainError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "detail": detail or {}}


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer, for the OpenAPI schema (`foundation.openapi`)."""

    error = serializers.CharField(
        help_text="A stable code: invalid, parse_error, not_found, sku_not_found, "
        "insufficient_stock, idempotency_conflict, not_authenticated, permission_denied..."
    )
    message = serializers.CharField(help_text="What went wrong, for a person.")
    detail = serializers.DictField(
        help_text="Machine-readable particulars: for invalid input, the messages per field."
    )


def _validation_message(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, errors in detail.items():
            text = errors[0] if isinstance(errors, list) and errors else errors
            if isinstance(text, dict):
                text = _validation_message(text)
            parts.append(f"{field}: {text}")
        return "; ".join(parts) or "Invalid input."
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.detail), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if not isinstance(detail, dict):
            # `ValidationError("...")` carries a list: `detail` is always an object.
            detail = {"non_field_errors": detail}
        response.data = error_body("invalid", _validation_message(exc.detail), detail)
    else:
        code = getattr(exc, "default_code", "error")
        response.data = error_body(code, str(getattr(exc, "detail", exc)))
    return response


# Addresses that answer JSON: an address that matches no route there (a slug with a
# character a slug cannot have, an id that is not a number) answers in the same shape.
JSON_PREFIXES = ("/api/", "/webhooks/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: the error shape under the API, Django's page elsewhere."""
    if request.path_info.startswith(JSON_PREFIXES):
        return JsonResponse(
            error_body("not_found", "There is nothing at this address."), status=404
        )
    return defaults.page_not_found(request, exception)
