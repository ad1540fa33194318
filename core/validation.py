"""Request-shape validation for API views: run an input serializer and raise
VALIDATION_FAILED with API.md detail codes instead of DRF's generic ones."""

from __future__ import annotations

import re

from rest_framework import serializers

from core.errors import ValidationFailed
from core.exceptions import flatten_serializer_errors

_INDEX = re.compile(r"\[\d+\]")


def remap_codes(details: list[dict], codes: dict[str, str]) -> list[dict]:
    """`codes` maps "path:CODE", "path:*" or "*:CODE" (path with list indexes
    written `[]`, CODE as flattened) to the API.md detail code."""
    out = []
    for item in details:
        path = _INDEX.sub("[]", item["field"] or "")
        code = item["code"]
        new = (
            codes.get(f"{path}:{code}")
            or codes.get(f"{path}:*")
            or codes.get(f"{path.rsplit('.', 1)[0]}.*:{code}")
            or codes.get(f"*:{code}")
            or code
        )
        out.append({**item, "code": new})
    return out


def validate_input(
    serializer_class: type[serializers.Serializer],
    data,
    *,
    message: str = "The request was rejected.",
    codes: dict[str, str] | None = None,
    context: dict | None = None,
) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed(
            message,
            details=[{"field": None, "code": "INVALID", "message": "Expected a JSON object."}],
        )
    serializer = serializer_class(data=data, context=context or {})
    if not serializer.is_valid():
        details = flatten_serializer_errors(serializer.errors)
        raise ValidationFailed(message, details=remap_codes(details, codes or {}))
    return serializer.validated_data
