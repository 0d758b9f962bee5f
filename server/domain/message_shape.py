"""What no stored message may contain, checked in one walk before anything else looks at it: keys a
document cannot hold, numbers a document cannot store, nesting no event needs, and more bytes than
an event may have. A message that breaks one is refused by its index; the rest of its batch is not."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

MAX_DEPTH = 32
MAX_EVENT_BYTES = 32 * 1024
# What a body decoder puts where a value was nested too deep to decode (see server/http/body.py).
TOO_DEEP = "\x00granular:too-deep"
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class ShapeProblem:
    field: str
    code: str
    message: str


def shape_problem(message: Mapping[str, object], fields: frozenset[str]) -> ShapeProblem | None:
    """The first rule the message breaks, or None: keys with NUL or a leading `$` (INVALID_KEY), integers
    outside 64 bits (NUMBER_OUT_OF_RANGE), NaN or ±Infinity (NOT_FINITE), nesting deeper than
    MAX_DEPTH (TOO_DEEP), a JSON size over MAX_EVENT_BYTES (EVENT_TOO_LARGE, estimated in the same walk).
    A problem names the top-level field it is in (one of `fields`), never a caller's own key."""
    size = 0
    # An explicit stack: a hostile message cannot exhaust the interpreter's recursion. Each entry is
    # (value, the top-level field it is under, depth).
    stack: list[tuple[object, str, int]] = [(message, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        kind = type(value)
        if kind is str:
            size += len(value) + 2  # type: ignore[arg-type]
            if value == TOO_DEEP:
                return _too_deep(where)
        elif kind is bool or value is None:
            size += 5
        elif kind is int:
            if not _INT64[0] <= value <= _INT64[1]:  # type: ignore[operator]
                return ShapeProblem(where, "NUMBER_OUT_OF_RANGE", f"`{where}` is outside 64-bit integers.")
            size += 20
        elif kind is float:
            if not math.isfinite(value):  # type: ignore[arg-type]
                return ShapeProblem(where, "NOT_FINITE", f"`{where}` must be a finite number.")
            size += 24
        elif isinstance(value, Mapping):
            if depth >= MAX_DEPTH:
                return _too_deep(where)
            for key, item in value.items():
                if type(key) is not str or "\x00" in key or key.startswith("$"):
                    field = where or "event"
                    return ShapeProblem(
                        field, "INVALID_KEY", f"A key in `{field}` has a NUL byte or starts with `$`."
                    )
                size += len(key) + 4
                stack.append((item, where or (key if key in fields else "event"), depth + 1))
        elif isinstance(value, list | tuple):
            if depth >= MAX_DEPTH:
                return _too_deep(where)
            stack.extend((item, where, depth + 1) for item in value)
            size += 2
        else:
            return ShapeProblem(
                where or "event", "INVALID_FIELD", f"`{where or 'event'}` holds a value JSON has not."
            )
        if size > MAX_EVENT_BYTES:
            return ShapeProblem("event", "EVENT_TOO_LARGE", f"The event is over {MAX_EVENT_BYTES} bytes.")
    return None


def _too_deep(where: str) -> ShapeProblem:
    return ShapeProblem(where, "TOO_DEEP", f"`{where}` is nested deeper than {MAX_DEPTH} levels.")
