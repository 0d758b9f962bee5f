"""JSON error responses in the GraphQL error shape, so clients parse one format everywhere."""

from starlette.responses import JSONResponse

from server.domain.errors import (
    Forbidden,
    GranularError,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


# By kind, so every code of a kind (TOKEN_EXPIRED is Unauthenticated too) keeps its status.
_STATUS: tuple[tuple[type[GranularError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (RateLimited, 429),
    (Unavailable, 503),
    (Overloaded, 503),
)


def from_error(error: GranularError, *, challenge: str = "Bearer") -> JSONResponse:
    """The coded error response; a 401 names the scheme to authenticate with (`challenge`)."""
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited | Unavailable | Overloaded):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = challenge
    # Errors raised with only a code (e.g. PAYLOAD_TOO_LARGE for an inflated body) map by the code.
    status = next((s for kind, s in _STATUS if isinstance(error, kind) or kind.code == error.code), 400)
    return error_response(status, error.code, error.message, headers)


async def database_unavailable(request: object, exc: Exception) -> JSONResponse:
    """Any route: the database did not answer, so the client should retry (503, Retry-After)."""
    return error_response(
        503,
        "DB_UNAVAILABLE",
        "The database is unavailable; retry later.",
        {"Retry-After": str(Unavailable.retry_after)},
    )
