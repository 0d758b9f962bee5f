"""Segment-compatible ingest: every route Segment's libraries post to.

`/v1/batch` (`/v1/b`), and one message each at `/v1/track`, `/v1/page`, `/v1/identify`, `/v1/group`,
`/v1/alias`, `/v1/screen` (`/v1/t`, `/v1/p`, `/v1/i`, `/v1/g`, `/v1/a`, `/v1/s`: analytics.js 2.0's
short paths). Segment's libraries, pointed at Granular, work unchanged: the write key as HTTP Basic
user name, as a Bearer token, or as the body's `writeKey`; JSON sent as text/plain; gzip bodies;
retries on 5xx and 429 only (so a bad message is reported in a 200 answer, never by failing the
whole batch). `/v1/m`, the browser library's own telemetry, is accepted and discarded.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.domain.access import Principal, Role
from server.domain.errors import GranularError
from server.domain.ingest import IngestResult
from server.http.auth import authenticate
from server.http.body import decode_body, inflate
from server.http.problems import error_response, from_error
from server.services.rate_limit import RateLimiter
from server.wiring import Services

BASIC_CHALLENGE = 'Basic realm="Granular"'
# Every path of one message, to the message type it carries.
SINGLE_KINDS = {
    **{kind: kind for kind in ("track", "page", "identify", "group", "alias", "screen")},
    "t": "track",
    "p": "page",
    "i": "identify",
    "g": "group",
    "a": "alias",
    "s": "screen",
}
_INGEST_ROLES = frozenset({Role.INGEST, Role.ADMIN})


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


async def _payload(request: Request) -> Any:
    raw = inflate(
        await request.body(), request.headers.get("content-encoding"), request.app.state.max_body_bytes
    )
    return decode_body(raw, request.headers.get("content-type"))


async def _caller(request: Request, services: Services, payload: Any, route: str) -> Principal:
    """The authenticated, origin-checked, rate-limited caller, allowed to ingest."""
    body_key = payload.get("writeKey") if isinstance(payload, dict) else None
    principal = await authenticate(
        request,
        services,
        body_key=body_key if isinstance(body_key, str) else None,
        keys_from_browsers=True,
    )
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(principal.key_id, route)
    return principal


def _message(message: Any) -> Any:
    """A message without its `writeKey`: a credential has no business in the ingest path."""
    if isinstance(message, dict) and "writeKey" in message:
        return {k: v for k, v in message.items() if k != "writeKey"}
    return message


async def _ingest(request: Request, route: str, messages: list[Any], single: bool, payload: Any) -> Response:
    services: Services = request.app.state.services
    principal = await _caller(request, services, payload, route)
    if not principal.may(_INGEST_ROLES):
        await services.audit.denied(principal, route)
        return error_response(403, "FORBIDDEN", "This key's role may not ingest events.")
    gpc = request.headers.get("sec-gpc") == "1"
    result = await services.ingest.ingest(principal, messages, gpc=gpc)
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


async def _batch(request: Request) -> Response:
    payload = await _payload(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        # Authenticate first: an unauthenticated caller learns nothing about the body's shape.
        await _caller(request, request.app.state.services, payload, "/v1/batch")
        return error_response(400, "INVALID_BATCH", "The body needs a `batch` array.")
    shared_context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    messages = []
    for message in payload["batch"]:
        message = _message(message)
        if isinstance(message, dict):
            message = dict(message)
            if "sentAt" in payload and "sentAt" not in message:
                message["sentAt"] = payload["sentAt"]
            if shared_context:
                message["context"] = {**shared_context, **(message.get("context") or {})}
        messages.append(message)
    return await _ingest(request, "/v1/batch", messages, False, payload)


async def _single(request: Request) -> Response:
    kind = SINGLE_KINDS.get(request.path_params["kind"])
    if kind is None:
        return error_response(404, "NOT_FOUND", "No such endpoint.")
    payload = await _payload(request)
    route = f"/v1/{kind}"
    if not isinstance(payload, dict):
        await _caller(request, request.app.state.services, payload, route)
        return error_response(400, "INVALID_EVENT", "The body must be a JSON object.")
    return await _ingest(request, route, [{**_message(payload), "type": kind}], True, payload)


async def batch(request: Request) -> Response:
    try:
        return await _batch(request)
    except GranularError as error:
        return from_error(error, challenge=BASIC_CHALLENGE)


async def single(request: Request) -> Response:
    try:
        return await _single(request)
    except GranularError as error:
        return from_error(error, challenge=BASIC_CHALLENGE)


async def telemetry(request: Request) -> Response:
    """Segment's browser library reports counts of its own calls to `/m`: nothing of a customer's,
    so it is neither authenticated nor kept. Answering keeps its console free of failed requests."""
    return Response(status_code=204)
