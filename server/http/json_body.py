"""Request bodies as JSON, at any nesting depth. Python's decoder recurses once per level, so ~1,000
nested brackets end in RecursionError; such a body is decoded again by an iterative parser (ijson)
that replaces every value nested deeper than the message rules allow with a marker, so the one
message holding it is refused by its index (TOO_DEEP) and the rest of its batch is kept."""

import json
from typing import Any

import ijson

from server.domain.message_shape import MAX_DEPTH, TOO_DEEP

_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})
# Levels kept: a batch (object → array) plus a message's own MAX_DEPTH, and one to find the marker.
_KEPT = MAX_DEPTH + 3


def decode(raw: bytes | str) -> Any:
    """The body's JSON value; json.JSONDecodeError (a ValueError) when it is not JSON."""
    try:
        return json.loads(raw)
    except RecursionError:
        return _decode_capped(raw.encode() if isinstance(raw, str) else raw)


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
