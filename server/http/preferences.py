"""GET /preferences: the customer's own preference center, a static page that a brand links to or
embeds; it talks only to /graphql with the customer token it is handed (fragment or postMessage)."""

from collections.abc import Iterable, Mapping
from pathlib import Path

from starlette.types import Scope

from server.domain.workspace import is_origin
from server.http.static_page import StaticPage, security_headers

STATIC = Path(__file__).parent / "static" / "preferences"


def frame_ancestors(origins: Iterable[str]) -> str:
    """Who may embed the page: this origin and the browser origins, plain ones only (a stray ';' or
    space in a setting would otherwise add a CSP directive)."""
    plain = sorted({o.rstrip("/").lower() for o in origins} - {""})
    return " ".join(["'self'", *(o for o in plain if is_origin(o))])


class Preferences(StaticPage):
    """Embeddable by the operator's origins and by every workspace's `allowedOrigins`: the page's
    request carries no token (it arrives later, by fragment or postMessage), so it cannot say its
    workspace; the token's own workspace then holds it to that workspace's origins."""

    def __init__(self, origins: Iterable[str]) -> None:
        super().__init__(STATIC)
        self._origins = frozenset(origins)

    async def headers(self, scope: Scope) -> Mapping[bytes, bytes]:
        services = getattr(scope["app"].state, "services", None)
        workspace_origins = await services.workspaces.allowed_origins() if services else frozenset()
        return security_headers(frame_ancestors(self._origins | workspace_origins))
