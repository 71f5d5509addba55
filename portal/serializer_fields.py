"""Serializer fields that take JSON's types as the OpenAPI description states them.

DRF's CharField turns a number into text and its BooleanField reads 0, 1, "yes" or "off": a request
the description calls invalid would be accepted. These refuse any other JSON type with a 400 naming
the field.
"""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
