"""Every GraphQL error leaves with an `extensions.code`; unexpected ones are masked."""

import re
from collections.abc import Callable

from graphql.error import GraphQLError
from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)
from strawberry.extensions import MaskErrors

from server.domain.errors import GranularError, Overloaded, RateLimited, Unavailable

_VALIDATION_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"exceeds maximum operation depth"), "QUERY_TOO_DEEP"),
    (re.compile(r"aliases found"), "TOO_MANY_ALIASES"),
    (re.compile(r"more than \d+ tokens"), "TOO_MANY_TOKENS"),
    (re.compile(r"Cannot spread fragment .* within itself"), "CYCLIC_FRAGMENT"),
    (re.compile(r"introspection", re.IGNORECASE), "INTROSPECTION_DISABLED"),
    (re.compile(r"^Syntax Error"), "GRAPHQL_PARSE_FAILED"),
)
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def _timeout_or_outage(original: BaseException) -> tuple[str, str] | None:
    if isinstance(original, ExecutionTimeout | WTimeoutError):
        return "TIMEOUT", "The operation ran out of time."
    if isinstance(original, ConnectionFailure | ServerSelectionTimeoutError):
        return "DB_UNAVAILABLE", "The database is unavailable; retry later."
    return None


def coded(error: GraphQLError, *, hide_suggestions: bool) -> GraphQLError:
    """The error as a client may see it: a known code, or `Unexpected error.` / INTERNAL."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return error
        message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
        code = next(
            (code for pattern, code in _VALIDATION_CODES if pattern.search(message)),
            "GRAPHQL_VALIDATION_FAILED" if error.path is None else "INTERNAL",
        )
        if code == "INTERNAL":
            return _with(error, "Unexpected error.", {"code": code})
        return _with(error, message, {"code": code})
    if isinstance(original, GranularError):
        extensions: dict[str, object] = {"code": original.code}
        if original.field is not None:
            extensions["field"] = original.field
        if isinstance(original, RateLimited | Unavailable | Overloaded):
            extensions["retryAfter"] = original.retry_after
        return _with(error, original.message, extensions)
    known = _timeout_or_outage(original)
    if known is not None:
        code, message = known
        extensions = {"code": code}
        if code == "DB_UNAVAILABLE":
            extensions["retryAfter"] = Unavailable.retry_after
        return _with(error, message, extensions)
    return _with(error, "Unexpected error.", {"code": "INTERNAL"})


class ErrorCodes(MaskErrors):
    """MaskErrors that keeps our coded errors and codes the validation errors graphql-core raises."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self._hide_suggestions = hide_suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [coded(error, hide_suggestions=self._hide_suggestions) for error in errors]


def error_codes(*, hide_suggestions: bool) -> Callable[[], ErrorCodes]:
    return lambda: ErrorCodes(hide_suggestions=hide_suggestions)
