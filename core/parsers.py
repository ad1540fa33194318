"""Request body parsing, with a limit on how deeply JSON may nest.

Python's parser gives up only past its recursion limit (~1,000 levels), and a
body just under it parses but then breaks whatever walks it recursively
(storing it as jsonb, serializing it back). No real payload nests deeper than
a few levels, so everything deeper than MAX_JSON_DEPTH is refused as malformed.
"""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

MAX_JSON_DEPTH = 64


def json_depth_ok(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests at most `limit` arrays/objects deep (iteratively:
    no recursion of our own)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def loads_bounded(text: str | bytes, **kwargs):
    """json.loads for request bodies: ValueError when the text is not JSON or
    nests deeper than MAX_JSON_DEPTH (also past Python's own limit)."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc
    if not json_depth_ok(value):
        raise ValueError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


class JSONParser(DrfJSONParser):
    """DRF's JSON parser with the nesting limit: too deep is a 400 like any
    other malformed body, not a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        if not json_depth_ok(value):
            raise ParseError(
                f"JSON parse error - the body nests more than {MAX_JSON_DEPTH} levels deep."
            )
        return value
