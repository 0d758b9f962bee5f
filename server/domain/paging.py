"""The one paging rule every list follows: a page size within bounds (refused, never clamped, when
outside them) and an opaque cursor naming the sort key of the last item of the previous page."""

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from server.domain.errors import InvalidInput

MAX_PAGE = 500
# The per-profile fields of a full page read the events of up to MAX_PAGE profiles in one query:
# on the embedded database that takes seconds, more than one request's usual database budget.
PAGE_READ_SECONDS = 60.0
T = TypeVar("T")


def page_size(first: int, *, field: str = "first") -> int:
    """`first` when 1 ≤ first ≤ MAX_PAGE; otherwise PAGE_TOO_LARGE or OUT_OF_RANGE."""
    if first > MAX_PAGE:
        raise InvalidInput(f"`{field}` may be at most {MAX_PAGE}.", field=field, code="PAGE_TOO_LARGE")
    if first < 1:
        raise InvalidInput(f"`{field}` must be at least 1.", field=field, code="OUT_OF_RANGE")
    return first


def invalid_cursor() -> InvalidInput:
    """The refusal of an `after` this API did not issue."""
    return InvalidInput("`after` is not a cursor this API issued.", field="after", code="INVALID_CURSOR")


def encode_cursor(*keys: str) -> str:
    """The sort key of an item as an opaque string (its parts are never shown as such)."""
    return base64.urlsafe_b64encode(json.dumps(keys, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, parts: int) -> tuple[str, ...] | None:
    """The sort key inside a cursor of `parts` strings; None for no cursor; INVALID_CURSOR otherwise."""
    if cursor is None:
        return None
    try:
        keys = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_cursor() from None
    if not isinstance(keys, list) or len(keys) != parts or not all(isinstance(k, str) for k in keys):
        raise invalid_cursor()
    return tuple(keys)


def cursor_time(text: str) -> datetime:
    """A timestamp part of a cursor (written by `datetime.isoformat`)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid_cursor() from None


@dataclass(frozen=True)
class PageRequest:
    """A checked `first` and the decoded `after` key."""

    size: int
    after: tuple[str, ...] | None

    @property
    def after_id(self) -> str | None:
        """The key of a one-part cursor (an id)."""
        return self.after[0] if self.after else None

    @property
    def fetch(self) -> int:
        """How many items to read: one more than the page tells whether another page follows."""
        return self.size + 1


def page_request(first: int, after: str | None, *, key_parts: int = 1) -> PageRequest:
    """Check `first` and decode `after` (a cursor of `key_parts` strings)."""
    return PageRequest(page_size(first), decode_cursor(after, key_parts))


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items in order, each with its cursor, and whether more follow."""

    items: list[T]
    cursors: list[str]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(zip(self.cursors, self.items, strict=True))


def page_of(rows: Sequence[T], request: PageRequest, key: Callable[[T], tuple[str, ...]]) -> Page[T]:
    """The page from rows read with `request.fetch`: at most `request.size` items, and whether the
    extra row came back."""
    items = list(rows[: request.size])
    return Page(items, [encode_cursor(*key(item)) for item in items], len(rows) > request.size)
