"""The one exception tree for expected failures; each carries a stable code (README: error codes).

    GranularError(code, message, field)
    ├── InvalidInput          a field of the request is wrong          (code names the rule)
    ├── NotFound              no such thing in the caller's workspace  NOT_FOUND
    ├── Forbidden             the caller's role may not do this        FORBIDDEN
    ├── Unauthenticated       no valid key or token                    UNAUTHENTICATED
    ├── PayloadTooLarge       body, batch or event over its limit      PAYLOAD_TOO_LARGE, ...
    ├── UnsupportedMediaType  a body type or encoding that is not read UNSUPPORTED_MEDIA_TYPE
    ├── RateLimited           too many operations for this key         RATE_LIMITED
    ├── Unavailable           the database does not answer             DB_UNAVAILABLE
    └── Overloaded            this process is at its admission limit   OVERLOADED, TOO_MANY_SUBSCRIPTIONS

Messages never contain values the caller sent (they may be personal data), only field names.
"""


class GranularError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(GranularError):
    code = "BAD_USER_INPUT"


class NotFound(GranularError):
    code = "NOT_FOUND"


class Forbidden(GranularError):
    code = "FORBIDDEN"


class Unauthenticated(GranularError):
    code = "UNAUTHENTICATED"


class PayloadTooLarge(GranularError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(GranularError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(GranularError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(GranularError):
    code = "DB_UNAVAILABLE"
    retry_after = 5


class Overloaded(GranularError):
    """More work is waiting in this process than it will take on: shed now, retry shortly."""

    code = "OVERLOADED"
    retry_after = 1
