"""Who is calling: an API key as Bearer token, or (Segment-style) as HTTP Basic user name."""

import base64
import binascii

from starlette.requests import HTTPConnection

from server.domain.access import Principal
from server.services import Services


def presented_secret(connection: HTTPConnection) -> str | None:
    """The key in the Authorization header; keys in URLs are never read."""
    header = connection.headers.get("authorization", "")
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


async def authenticate(connection: HTTPConnection, services: Services) -> Principal | None:
    secret = presented_secret(connection)
    return await services.keys.authenticate(secret) if secret else None
