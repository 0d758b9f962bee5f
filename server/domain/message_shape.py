"""What no stored message may contain, checked in one walk before anything else looks at it: keys a
document cannot hold, numbers a document cannot store, nesting no event needs, and more bytes than
an event may have. A message that breaks one is refused by its index; the rest of its batch is not."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

MAX_DEPTH = 32
MAX_EVENT_BYTES = 32 * 1024
# What a body decoder puts where a value was nested too deep to decode (see server/http/json_body.py).
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
    # An explicit stack: a hostile message cannot exhaust the interpreter's recursion.
    stack: list[tuple[object, str, int]] = [(message, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if value == TOO_DEEP:
            return ShapeProblem(path, "TOO_DEEP", f"`{path}` is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str):
            size += len(value) + 2
        elif isinstance(value, bool) or value is None:
            size += 5
        elif isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                return ShapeProblem(path, "NUMBER_OUT_OF_RANGE", f"`{path}` is outside 64-bit integers.")
            size += 20
        elif isinstance(value, float):
            if not math.isfinite(value):
                return ShapeProblem(path, "NOT_FINITE", f"`{path}` must be a finite number.")
            size += 24
        elif isinstance(value, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                return ShapeProblem(path, "TOO_DEEP", f"`{path}` is nested deeper than {MAX_DEPTH} levels.")
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str) or "\x00" in key or key.startswith("$"):
                        where = path or "event"
                        return ShapeProblem(
                            where, "INVALID_KEY", f"A key in `{where}` has a NUL byte or starts with `$`."
                        )
                    size += len(key) + 4
                    where = path or (key if key in fields else "event")
                    stack.append((item, where, depth + 1))
            else:
                stack.extend((item, path, depth + 1) for item in value)
            size += 2
        if size > MAX_EVENT_BYTES:
            return ShapeProblem("event", "EVENT_TOO_LARGE", f"The event is over {MAX_EVENT_BYTES} bytes.")
    return None
