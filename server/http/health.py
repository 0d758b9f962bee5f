"""Liveness, readiness and Prometheus metrics."""

import pymongo
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.metrics import REGISTRY
from server.services.capacity import Capacity

# A ready process answers a ping at once; one that cannot within this is taken out of rotation.
READY_SECONDS = 2.0


async def healthz(request: Request) -> Response:
    """The process runs (no database, no lock): a restart is the only cure for a failing one."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Send traffic here? Not while shedding load (OVERLOADED), nor while the database is away."""
    capacity: Capacity = request.app.state.capacity
    if capacity.shedding:
        return JSONResponse({"status": "shedding"}, status_code=503, headers={"Retry-After": "1"})
    try:
        with pymongo.timeout(READY_SECONDS):
            await request.app.state.services.ping()
    except PyMongoError:
        return JSONResponse({"status": "database unavailable"}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
