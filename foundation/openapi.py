"""The OpenAPI schema's error answers: every operation documents the errors it can give,
all in the one error shape (`foundation.errors.ErrorSerializer`).

What every operation of a kind can answer is added here (settings: DEFAULT_SCHEMA_CLASS):
400 for any operation (a malformed query or body), 401 and 403 where a token is needed,
404 where the path names something, 413 where there is a body. What only some operations
answer (409, or a 404 for a code named in the body) their views declare with
`error_responses(...)` beside their other responses.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse

from .errors import ErrorSerializer

DESCRIPTIONS = {
    400: "Invalid input: the message names the field (detail has every field's messages).",
    401: "No valid token (Authorization: Token <key>), or no valid signature.",
    403: "The caller's role does not allow this.",
    404: "What the path or the body names does not exist.",
    409: "A conflict with the current state: insufficient stock, an Idempotency-Key used "
    "for another request, an operation already done.",
    413: "The body is too large.",
    503: "The hub cannot check this request now (for a webhook: the channel's secret is "
    "unusable); the sender retries later.",
}

# Public endpoints authenticate otherwise: the webhook intake by the channel's signature
# (channels/intake/views.py; the public contract in docs lists its answers).
PUBLIC_ENDPOINT_ERRORS = {"/webhooks/{slug}/": (401, 404, 413, 503)}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """`responses` entries for `extend_schema`: the error shape under each status."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[status])
        for status in statuses
    }


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_responses(status)[status], str(status), ("application/json",), direction
                )
        return dict(sorted(responses.items()))

    def error_statuses(self) -> list[int]:
        statuses = [400, *PUBLIC_ENDPOINT_ERRORS.get(self.path, ())]
        if any(self.get_auth()):
            statuses += [401, 403]
        if "{" in self.path:
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses.append(413)
        return statuses
