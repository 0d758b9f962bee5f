"""The bare baselines Granular is measured against: Starlette and the same driver, no GraphQL, no rules."""

import json
import os

from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_client: AsyncMongoClient = AsyncMongoClient(  # type: ignore[type-arg]
    os.environ["BENCH_MONGODB_URI"], w="majority", journal=True, tz_aware=True
)
_db = _client[os.environ["BENCH_DATABASE"]]


async def ingest(request: Request) -> Response:
    """Parse the same JSON body and insert its events as they are."""
    body = json.loads(await request.body())
    await _db["baseline_events"].insert_many(body["batch"], ordered=False)
    return JSONResponse({"accepted": len(body["batch"])})


async def profile(request: Request) -> Response:
    """Read the same profile document and answer the same fields."""
    doc = await _db["profiles"].find_one({"_id": request.path_params["id"]}) or {}
    scores = doc.get("scores", {})
    return JSONResponse(
        {
            "phase": scores.get("journey_phase"),
            "engagementScore": scores.get("engagement", {}).get("total"),
            "intentScore": scores.get("journey", {}).get("total"),
            "affinities": [{"key": k, "weight": v["total"]} for k, v in doc.get("affinities", {}).items()][
                :10
            ],
        }
    )


app = Starlette(routes=[Route("/ingest", ingest, methods=["POST"]), Route("/profile/{id}", profile)])
