"""JSON error responses in the GraphQL error shape, so clients parse one format everywhere."""

from starlette.responses import JSONResponse

from server.domain.errors import GranularError, RateLimited, Unavailable


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "DB_UNAVAILABLE": 503,
}


def from_error(error: GranularError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unavailable):
        headers["Retry-After"] = str(error.retry_after)
    return error_response(_STATUS.get(error.code, 400), error.code, error.message, headers)


def unauthenticated() -> JSONResponse:
    return error_response(
        401, "UNAUTHENTICATED", "A valid API key is required.", {"WWW-Authenticate": "Bearer"}
    )


async def database_unavailable(request: object, exc: Exception) -> JSONResponse:
    """Any route: the database did not answer, so the client should retry (503, Retry-After)."""
    return error_response(
        503,
        "DB_UNAVAILABLE",
        "The database is unavailable; retry later.",
        {"Retry-After": str(Unavailable.retry_after)},
    )
