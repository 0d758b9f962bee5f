"""The admission limit in front of the routes that do database work (GraphQL over HTTP and /v1/*).

Requests beyond the limit get 503 OVERLOADED with Retry-After at once, before authentication or
parsing; health, readiness, metrics and the static pages are never held back by it. WebSockets
are admitted by their own cap (subscriptions per key), not here: they stay open all day.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from server.domain.errors import Overloaded
from server.http.problems import from_error
from server.services.capacity import Capacity

_GUARDED_PREFIXES = ("/graphql", "/v1/")


class Admission:
    def __init__(self, app: ASGIApp, capacity: Capacity) -> None:
        self.app = app
        self.capacity = capacity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            async with self.capacity.admit("http"):
                await self.app(scope, receive, send)
        except Overloaded as error:
            await from_error(error)(scope, receive, send)
