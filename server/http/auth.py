"""Who is calling: an API key (Bearer, or Segment-style as HTTP Basic user name, or on Segment's routes
the body's `writeKey`) or a customer token (Bearer only). Credentials in URLs are never read."""

import base64
import binascii

from starlette.requests import HTTPConnection

from server.domain.access import Principal
from server.domain.errors import Forbidden, Unauthenticated
from server.services.customer_tokens import looks_like_token
from server.wiring import Services


def presented_secret(connection: HTTPConnection, body_key: str | None = None) -> str | None:
    """The credential in the Authorization header (Basic's user name, or Bearer's value); without the
    header, `body_key` (Segment's body `writeKey`). A body key never overrides a header, not even a
    malformed one."""
    header = connection.headers.get("authorization")
    if header is None:
        return body_key or None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _password = decoded.partition(":")
        return user or None
    return None


async def principal_for(credential: str, services: Services) -> Principal:
    """The caller a key or customer token stands for; Unauthenticated (with its code) otherwise."""
    if looks_like_token(credential):
        return await services.customer_tokens.authenticate(credential)
    principal = await services.keys.authenticate(credential)
    if principal is None:
        raise Unauthenticated("A valid API key or customer token is required.")
    return principal


async def authenticate(
    connection: HTTPConnection,
    services: Services,
    *,
    body_key: str | None = None,
    keys_from_browsers: bool = False,
) -> Principal:
    """The caller. A request from a browser (it carries `Origin`) must come from an origin the
    caller's workspace allows: always for a customer token, and for API keys where
    `keys_from_browsers` (Segment's routes, where pages use the INGEST key)."""
    credential = presented_secret(connection, body_key)
    if credential is None:
        raise Unauthenticated("A valid API key or customer token is required.")
    principal = await principal_for(credential, services)
    origin = connection.headers.get("origin")
    if (
        (principal.customer is not None or keys_from_browsers)
        and origin is not None
        and not await _origin_allowed(connection, services, principal, origin)
    ):
        raise Forbidden(
            "This page's origin is not in the workspace's `allowedOrigins`.", code="ORIGIN_NOT_ALLOWED"
        )
    return principal


async def _origin_allowed(
    connection: HTTPConnection, services: Services, principal: Principal, origin: str
) -> bool:
    own = f"{connection.url.scheme}://{connection.url.netloc}"
    if origin == own or origin in connection.app.state.cors_origins:
        return True
    return origin in (await services.workspaces.get(principal)).allowed_origins
