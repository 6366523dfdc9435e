"""Input fields that take what the schema says: a string field takes a JSON string.

DRF's CharField also takes a number and turns it into text (`{"code": 0}` would create
SKU "0"); the schema says string, and a client that sends a number has a bug worth
hearing about.
"""

from rest_framework import serializers


class StrictString:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Text(StrictString, serializers.CharField):
    pass


class Slug(StrictString, serializers.SlugField):
    pass
