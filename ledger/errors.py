"""The ledger's domain errors; `foundation.errors` maps each to one JSON shape."""

from rest_framework import status

from foundation.errors import Conflict, DomainError, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class InvalidState(Conflict):
    code = "invalid_state"


class DuplicateReservation(Conflict):
    code = "duplicate_reservation"


class InvalidOperation(DomainError):
    code = "invalid_operation"
    http_status = status.HTTP_400_BAD_REQUEST


class SkuNotFound(NotFound):
    code = "sku_not_found"


class LocationNotFound(NotFound):
    code = "location_not_found"


class ReservationNotFound(NotFound):
    code = "reservation_not_found"


class IncidentNotFound(NotFound):
    code = "incident_not_found"
