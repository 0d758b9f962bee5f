"""GET /dashboard: a static page (vendored Chart.js, no build step, no third-party requests) that
talks only to /graphql; nobody may embed it."""

from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import Scope

from server.http.static_page import StaticPage, security_headers

STATIC = Path(__file__).parent / "static" / "dashboard"
HEADERS = security_headers("'none'")


class Dashboard(StaticPage):
    def __init__(self) -> None:
        super().__init__(STATIC)

    async def headers(self, scope: Scope) -> Mapping[bytes, bytes]:
        return HEADERS


async def home(request: Request) -> RedirectResponse:
    """`GET /`: people who open the server's address land on the dashboard (temporary, so the root
    stays free for anything else later)."""
    return RedirectResponse("/dashboard/", status_code=307)
