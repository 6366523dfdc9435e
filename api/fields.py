"""Input fields that take what the schema says: a string field takes a JSON string.

DRF's CharField also takes a number and turns it into text (`{"code": 0}` would create
SKU "0"); the schema says string, and a client that sends a number has a bug worth
hearing about. A channel's own ids are the exception: channels hand them out as numbers
(Shopify's order and variant ids), so those take text or a whole number, and say so.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictString:
    accepts: tuple[type, ...] = (str,)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, self.accepts):
            self.fail("invalid")
        return super().to_internal_value(data)


class Text(StrictString, serializers.CharField):
    pass


class Slug(StrictString, serializers.SlugField):
    pass


EXTERNAL_ID_LENGTH = 255


@extend_schema_field(
    {"oneOf": [{"type": "string", "maxLength": EXTERNAL_ID_LENGTH}, {"type": "integer"}]}
)
class ExternalId(StrictString, serializers.CharField):
    """A channel's id (at most 255 characters): text, or a whole number as the channel
    wrote it."""

    accepts = (str, int)

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=EXTERNAL_ID_LENGTH, **kwargs)
