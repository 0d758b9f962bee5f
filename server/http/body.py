"""Request bodies: gzip inflated within the body limit, then decoded as JSON in one place, at any
nesting depth, whatever route they came to (GraphQL's view decodes with `decode` too).

Python's decoder recurses once per level, so ~1,000 nested brackets end in RecursionError; such a body
is decoded again by an iterative parser (ijson) that replaces every value nested deeper than the message
rules allow with a marker, so the one message holding it is refused by its index (TOO_DEEP) and the rest
of its batch is kept.
"""

import json
import zlib
from typing import Any

import ijson

from server.domain.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from server.domain.message_shape import MAX_DEPTH, TOO_DEEP

# Segment's browser library sends its JSON as text/plain, which makes a CORS "simple" request (no
# preflight of its own). Form encodings, what a cross-site HTML form posts, are refused.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})


def inflate(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body as sent, gunzipped when it says gzip; PAYLOAD_TOO_LARGE once inflated past `limit`."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise UnsupportedMediaType("`Content-Encoding` must be gzip or absent.", field="Content-Encoding")
    inflater = zlib.decompressobj(wbits=31)
    try:
        inflated = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise InvalidInput("The body is not valid gzip.", field="body", code="INVALID_JSON") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The request body is over {limit} bytes.")
    return inflated


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """The body's JSON value. `Content-Type` may be application/json, text/plain (any charset: JSON is
    UTF-8) or absent; any other type is UNSUPPORTED_MEDIA_TYPE, a body that is not JSON INVALID_JSON."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type and media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "`Content-Type` must be application/json or text/plain.", field="Content-Type"
        )
    try:
        return decode(raw)
    except ValueError:
        raise InvalidInput("The body is not valid JSON.", field="body", code="INVALID_JSON") from None


def decode(raw: bytes | str) -> Any:
    """The body's JSON value; json.JSONDecodeError (a ValueError) when it is not JSON."""
    try:
        return json.loads(raw)
    except RecursionError:
        return _decode_capped(raw.encode() if isinstance(raw, str) else raw)


_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})
# Levels kept: a batch (object → array) plus a message's own MAX_DEPTH, and one to find the marker.
_KEPT = MAX_DEPTH + 3


def _decode_capped(raw: bytes) -> Any:
    containers: list[Any] = []
    keys: list[str | None] = []
    skipped = 0
    result: Any = None

    def place(value: Any) -> None:
        nonlocal result
        if not containers:
            result = value
        elif isinstance(containers[-1], list):
            containers[-1].append(value)
        else:
            containers[-1][keys[-1]] = value

    try:
        for event, value in ijson.basic_parse(raw, use_float=True):
            if skipped:
                skipped += (event in _OPEN) - (event in _CLOSE)
                if not skipped:
                    place(TOO_DEEP)
            elif event in _OPEN and len(containers) >= _KEPT:
                skipped = 1
            elif event in _OPEN:
                container: Any = {} if event == "start_map" else []
                place(container)
                containers.append(container)
                keys.append(None)
            elif event in _CLOSE:
                containers.pop()
                keys.pop()
            elif event == "map_key":
                keys[-1] = value
            else:
                place(value)
    except ijson.JSONError as error:
        raise json.JSONDecodeError("not JSON", "", 0) from error
    return result
