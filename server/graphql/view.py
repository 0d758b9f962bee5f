"""POST /graphql: authenticates the key before Strawberry parses anything."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from server.domain.access import Principal
from server.graphql.context import Context
from server.http.auth import authenticate
from server.http.problems import unauthenticated
from server.services import Services


class GranularGraphQL(GraphQL[Context, None]):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            wants_ide = (
                request.method == "GET"
                and self.graphql_ide is not None
                and "text/html" in request.headers.get("accept", "")
            )
            if not wants_ide:
                principal = await authenticate(request, request.app.state.services)
                if principal is None:
                    await unauthenticated()(scope, receive, send)
                    return
                scope.setdefault("state", {})["principal"] = principal
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        principal: Principal = request.state.principal
        assert isinstance(response, Response)
        return Context(request=request, response=response, principal=principal, services=services)

    async def get_root_value(self, request: Request | WebSocket) -> Any:
        return None
