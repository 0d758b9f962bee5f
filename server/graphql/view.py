"""POST /graphql: authenticates the key before Strawberry parses anything."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from server.domain.access import Principal, Role
from server.domain.errors import GranularError
from server.graphql.context import Context
from server.graphql.errors import coded
from server.http.auth import authenticate, principal_for
from server.http.body import decode
from server.http.problems import from_error
from server.services import Services
from server.services.rate_limit import RateLimiter

_NOBODY = Principal(workspace_id="", role=Role.INGEST, key_id="")
_STATUS = {"DB_UNAVAILABLE": 503, "OVERLOADED": 503, "RATE_LIMITED": 429, "TOO_MANY_EVENTS": 413}


class GranularGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        *args: Any,
        rate_limiter: RateLimiter | None = None,
        hide_suggestions: bool = False,
        **kwargs: Any,
    ) -> None:
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
        return UNSET

    async def get_root_value(self, request: Request | WebSocket) -> Any:
        return None
