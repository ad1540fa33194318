"""Serializer fields stricter than DRF's defaults, for API.md's "quantities are
integers": DRF's IntegerField accepts "2", 2.0 and true, which a client that
sends them has got wrong."""

from __future__ import annotations

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, nothing else: strings, floats and booleans are `invalid`."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
