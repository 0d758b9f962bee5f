"""The typed per-request context every resolver reads."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from server.domain.access import Principal
from server.graphql.loaders import Loaders
from server.services.rate_limit import RateLimiter
from server.wiring import Services


@dataclass
class Context:
    request: Request | WebSocket  # a subscription's context is built on its WebSocket
    response: Response | WebSocket
    principal: Principal
    services: Services
    rate_limiter: RateLimiter | None = None
    # WebSockets: what the client sent in connection_init (its key, as {"Authorization": "Bearer …"}).
    connection_params: dict[str, Any] | None = None
    # Per-request memo: aliases asking the same question (e.g. all seven models) share one answer.
    memo: dict[Any, Any] = field(default_factory=dict)

    @cached_property
    def loaders(self) -> Loaders:
        """This request's DataLoaders (a request that reads no per-profile field builds none)."""
        return Loaders(self.services, lambda: self.principal)


Info: TypeAlias = strawberry.Info[Context, None]
