"""The body of a Segment request: gzip inflated within the body limit, then decoded as JSON in one
place (`decode_body`), whatever route it came to."""

import json
import zlib
from typing import Any

from server.domain.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

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
        return json.loads(raw)
    except ValueError:
        raise InvalidInput("The body is not valid JSON.", field="body", code="INVALID_JSON") from None
