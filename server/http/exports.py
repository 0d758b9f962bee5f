"""GET /v1/exports/{token}: a data-subject export, streamed once, then the link is spent."""

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.http.problems import error_response
from server.wiring import Services


async def download(request: Request) -> Response:
    if request.method == "HEAD":
        # Mail scanners and link previews probe with HEAD: answering would spend the one-time link.
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            "Download the export with GET; HEAD would spend the link.",
            {"Allow": "GET"},
        )
    services: Services = request.app.state.services
    stream = await services.dsr.export_stream(request.path_params["token"])
    if stream is None:
        return error_response(404, "NOT_FOUND", "This export link is unknown, used or expired.")
    return StreamingResponse(
        stream,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="export.json"', "Cache-Control": "no-store"},
    )
