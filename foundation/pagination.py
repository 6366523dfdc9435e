"""The API's pages: `?limit=` and `?offset=` (DRF's LimitOffsetPagination), checked.

DRF ignores a limit it cannot read (a typo silently gives the default page) and passes a
huge one straight to the database (above bigint: a 500). Here both numbers must be whole
numbers in range, or the request is a 400 that says so; the schema states the ranges.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_LIMIT = 1000
# Past the last row a page is empty; the bound only keeps the number a number.
MAX_OFFSET = 2**31 - 1


class Pagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return self._whole_number(request, self.limit_query_param, 1, MAX_LIMIT, self.default_limit)

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, 0, MAX_OFFSET, 0)

    @staticmethod
    def _whole_number(request: Request, name: str, lowest: int, highest: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        text = raw.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
        if value is None or not lowest <= value <= highest:
            raise ValidationError({name: [f"A whole number from {lowest} to {highest:,}."]})
        return value

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        ranges = {self.limit_query_param: (1, MAX_LIMIT), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            lowest, highest = ranges[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": lowest, "maximum": highest}
        return parameters
