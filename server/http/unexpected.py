"""One logging policy for every route: an unexpected exception is logged with its class and stack
frames — never its message, which may echo a document, an identifier or a caller's value — and the
client gets 500 INTERNAL `Unexpected error.` (GraphQL's resolvers follow the same rule through the
schema's `process_errors`).

Outermost of the app's own middleware, and the exception is not re-raised: the ASGI server's own
"Exception in ASGI application" log line would print the message.
"""

import logging
import traceback

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http.problems import error_response

logger = logging.getLogger("granular.http")


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or "-")


class UnexpectedErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:  # the client left (or was cut off half-way through its request)
            return
        except Exception as error:  # every unexpected error, whatever its class: logged as policy says
            logger.error(
                "unexpected %s at %s %s\n%s",
                type(error).__name__,
                scope.get("method", "WS"),
                _route(scope),
                "".join(traceback.format_tb(error.__traceback__)),
            )
            if scope["type"] == "http" and not started:
                await error_response(500, "INTERNAL", "Unexpected error.")(scope, receive, send)
