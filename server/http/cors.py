"""CORS for browser callers: the operator's origins (GRANULAR_CORS_ORIGINS, every workspace) plus each
workspace's own `allowedOrigins`.

A preflight carries no credential, so it cannot say its workspace: it is answered for the union of
all workspaces' origins. The request that follows is then held to its own workspace's origins when it
authenticates (server/http/auth.py), so one brand's page cannot use another brand's tokens."""

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class WorkspaceCors(CORSMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str],
        allow_methods: Sequence[str],
        allow_headers: Sequence[str],
        allow_credentials: bool = False,
    ) -> None:
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            allow_credentials=allow_credentials,
        )
        # A snapshot shared by concurrent requests; the repository refreshes it every few seconds.
        self._workspace_origins: frozenset[str] = frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(scope["app"].state, "services", None) if scope["type"] == "http" else None
        if services is not None and "origin" in Headers(scope=scope):
            # On a database fault these are the last known; the request answers 503 if it needs it.
            self._workspace_origins = await services.workspaces.allowed_origins()
        await super().__call__(scope, receive, send)

    def is_allowed_origin(self, origin: str) -> bool:
        return super().is_allowed_origin(origin) or origin in self._workspace_origins
