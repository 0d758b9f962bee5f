"""Segment-compatible ingest: /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/alias.

Segment's libraries, pointed at Granular, work unchanged: the write key as HTTP Basic user name,
gzip bodies, `batch` with `sentAt`, retries on 5xx and 429 only (so a bad message is reported in a
200 answer, never by failing the whole batch).
"""

import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.domain.access import Role
from server.domain.errors import GranularError
from server.domain.ingest import IngestResult
from server.http.auth import authenticate
from server.http.json_body import decode
from server.http.problems import error_response, from_error
from server.services import Services

SINGLE_KINDS = frozenset({"track", "identify", "page", "screen", "alias"})


def _result(result: IngestResult) -> dict[str, Any]:
    return {
        "success": True,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "suppressed": result.suppressed,
        "droppedNoConsent": result.dropped_no_consent,
        "expired": result.expired,
        "unplanned": result.unplanned,
        "rejected": [
            {"index": r.index, "code": r.code, "message": r.message, "field": r.field}
            for r in result.rejected
        ],
    }


async def _body(request: Request, limit: int) -> Any:
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        raw = inflater.decompress(raw, limit + 1)
        if len(raw) > limit or inflater.unconsumed_tail:
            raise GranularError(f"The request body is over {limit} bytes.", code="PAYLOAD_TOO_LARGE")
    return decode(raw)


async def _ingest(request: Request, messages: list[Any], single: bool) -> Response:
    services: Services = request.app.state.services
    try:
        principal = await authenticate(request, services)
    except GranularError as error:
        return from_error(error)
    if not principal.may(frozenset({Role.INGEST, Role.ADMIN})):
        await services.audit.denied(principal, request.url.path)
        return error_response(403, "FORBIDDEN", "This key's role may not ingest events.")
    gpc = request.headers.get("sec-gpc") == "1"
    try:
        result = await services.ingest.ingest(principal, messages, gpc=gpc)
    except GranularError as error:
        return from_error(error)
    if single and result.rejected:
        rejection = result.rejected[0]
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": rejection.message,
                        "extensions": {"code": rejection.code, "field": rejection.field},
                    }
                ]
            },
            status_code=400,
        )
    return JSONResponse(_result(result))


async def _payload(request: Request) -> Any | Response:
    try:
        return await _body(request, request.app.state.max_body_bytes)
    except GranularError as error:
        return from_error(error)
    except (ValueError, zlib.error):
        return error_response(400, "INVALID_JSON", "The body is not valid JSON (optionally gzip-compressed).")


async def batch(request: Request) -> Response:
    payload = await _payload(request)
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        return error_response(400, "INVALID_BATCH", "The body needs a `batch` array.")
    shared_context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    messages = []
    for message in payload["batch"]:
        if isinstance(message, dict):
            message = dict(message)
            if "sentAt" in payload and "sentAt" not in message:
                message["sentAt"] = payload["sentAt"]
            if shared_context:
                message["context"] = {**shared_context, **(message.get("context") or {})}
        messages.append(message)
    return await _ingest(request, messages, single=False)


async def single(request: Request) -> Response:
    payload = await _payload(request)
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, dict):
        return error_response(400, "INVALID_EVENT", "The body must be a JSON object.")
    kind = request.path_params["kind"]
    if kind not in SINGLE_KINDS:
        return error_response(404, "NOT_FOUND", "No such endpoint.")
    message = {**payload, "type": kind}
    return await _ingest(request, [message], single=True)
