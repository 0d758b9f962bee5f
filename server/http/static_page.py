"""A directory of static files served with strict security headers: the dashboard and the
preference center load nothing from another origin and talk only to /graphql."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAME_ORIGIN_ONLY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)


def security_headers(frame_ancestors: str) -> dict[bytes, bytes]:
    """The page's headers; `frame_ancestors` is who may embed it ("'none'" for nobody)."""
    headers = {
        b"content-security-policy": f"{_SAME_ORIGIN_ONLY}; frame-ancestors {frame_ancestors}".encode("ascii"),
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"no-referrer",
        b"cache-control": b"no-store",
    }
    if frame_ancestors == "'none'":
        headers[b"x-frame-options"] = b"DENY"  # for browsers that predate frame-ancestors
    return headers


class StaticPage(ABC):
    """The files of `directory`, each answered with the headers `headers(scope)` gives."""

    def __init__(self, directory: Path) -> None:
        self.files: ASGIApp = StaticFiles(directory=directory, html=True)

    @abstractmethod
    async def headers(self, scope: Scope) -> Mapping[bytes, bytes]: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = await self.headers(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in headers
                ] + list(headers.items())
            await send(message)

        await self.files(scope, receive, with_headers)
