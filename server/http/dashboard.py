"""GET /dashboard: a static page (vendored Chart.js, no build step, no third-party requests) that
talks only to /graphql; strict security headers."""

from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static" / "dashboard"

HEADERS = {
    b"content-security-policy": b"default-src 'none'; script-src 'self'; style-src 'self'; "
    b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cache-control": b"no-store",
}


class Dashboard:
    """The static files, each answered with the security headers."""

    def __init__(self) -> None:
        self.files: ASGIApp = StaticFiles(directory=STATIC, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in HEADERS
                ] + list(HEADERS.items())
            await send(message)

        await self.files(scope, receive, with_headers)
