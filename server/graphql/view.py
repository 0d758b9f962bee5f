"""POST /graphql: authenticates the key before Strawberry parses anything. WebSockets: the key comes
in connection_init; the server pings every socket, so a quiet subscription outlives idle-cutting proxies."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from server.domain.access import Principal, Role
from server.domain.errors import GranularError
from server.graphql.context import Context
from server.graphql.errors import coded
from server.http.auth import authenticate, principal_for
from server.http.body import decode
from server.http.problems import from_error
from server.services.rate_limit import RateLimiter
from server.wiring import Services

_NOBODY = Principal(workspace_id="", role=Role.INGEST, key_id="")
_STATUS = {"DB_UNAVAILABLE": 503, "OVERLOADED": 503, "RATE_LIMITED": 429, "TOO_MANY_EVENTS": 413}
# The server's keep-alive message on every WebSocket ("ping" on graphql-transport-ws, "ka" on the
# legacy graphql-ws), this often; a socket must send connection_init within CONNECTION_INIT_SECONDS.
KEEP_ALIVE_SECONDS = 15.0
CONNECTION_INIT_SECONDS = 10.0


class _PingingTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, whose server may ping too (clients answer pong): from the connection's
    acknowledgement on, every `keep_alive_interval` seconds."""

    _pinging: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._pinging is None:
            self._pinging = asyncio.create_task(self._ping())
            self._pinging.add_done_callback(self._task_done)

    async def _ping(self) -> None:
        interval = self.view.keep_alive_interval
        assert interval is not None
        while True:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self._pinging is not None:
            self._pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinging
        await super().shutdown()


class GranularGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = _PingingTransportWS

    def __init__(
        self,
        *args: Any,
        rate_limiter: RateLimiter | None = None,
        hide_suggestions: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("keep_alive", True)
        kwargs.setdefault("keep_alive_interval", KEEP_ALIVE_SECONDS)
        kwargs.setdefault("connection_init_wait_timeout", timedelta(seconds=CONNECTION_INIT_SECONDS))
        super().__init__(*args, **kwargs)
        self.rate_limiter = rate_limiter
        self.hide_suggestions = hide_suggestions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            wants_ide = (
                request.method == "GET"
                and self.graphql_ide is not None
                and "text/html" in request.headers.get("accept", "")
            )
            if wants_ide:
                # GraphiQL is a static page: it needs no key (its own requests carry one).
                await (await self.render_graphql_ide(request))(scope, receive, send)
                return
            try:
                principal = await authenticate(request, request.app.state.services)
            except GranularError as error:
                await from_error(error)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        await super().__call__(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        """Any nesting depth decodes: a value too deep becomes a marker the write path refuses by index."""
        return decode(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        # A WebSocket authenticates in connection_init (on_ws_connect); until then it may do nothing.
        principal: Principal = getattr(request.state, "principal", _NOBODY)
        return Context(
            request=request,
            response=response,
            principal=principal,
            services=services,
            rate_limiter=self.rate_limiter,
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every error leaves coded, whichever stage raised it (parse, validation, a hook, a resolver)."""
        if result.errors:
            result.errors = [coded(error, hide_suggestions=self.hide_suggestions) for error in result.errors]
        return await super().process_result(request, result)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """Outages, rate limits and oversized batches keep their HTTP meaning (503, 429, 413) when no
        data came back, so HTTP clients and proxies retry or back off as they should."""
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and not any((response_data.get("data") or {}).values()):
            for error in response_data.get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                if code in _STATUS:
                    response.status_code = _STATUS[code]
                    if code in ("DB_UNAVAILABLE", "OVERLOADED", "RATE_LIMITED"):
                        retry = (error.get("extensions") or {}).get("retryAfter", 5)
                        response.headers["Retry-After"] = str(retry)
                    break
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = str(params.get("Authorization") or params.get("authorization") or "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        try:
            context.principal = await principal_for(secret.strip(), context.services)
        except GranularError as error:
            raise ConnectionRejectionError({"code": error.code}) from None
        return UnsetType()

    async def get_root_value(self, request: Request | WebSocket) -> Any:
        return None
