"""A page of profiles with every per-profile field against the same page with `id` only."""

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import MongoClient

from bench import ingest
from bench.harness import ADMIN_KEY, Process

PAGE = 200
ID_ONLY = "query($first: Int!) { profiles(first: $first) { edges { node { id } } } }"
EVERY_FIELD = """query($first: Int!) { profiles(first: $first) { edges { node {
  id userId anonymousIds phase engagementScore intentScore affinities { key weight }
  consent { purpose granted source at } traits firstSeen lastSeen
  scoreExplanation { engagementScore intentScore engagement { event weight } intent { event weight } }
  conversionProbability
  ltv { revenue orders averageOrderValue pAlive expectedPurchases(weeks: 4) expectedAverageOrderValue clv }
} } } }"""


def ensure_shop(uri: str, database: str, granular: Process, size: int = PAGE) -> str | None:
    """At least `size` scored profiles (ingested through the API when the ingest section did not
    run) and fitted models; the conversion model's error, if it could not be fitted."""
    with MongoClient(uri) as client:
        profiles = client[database]["profiles"].count_documents({"merged_into": None})
    if profiles < size:
        events = ingest.messages(size * 20, profiles=size * 2, seed=11)
        # A visit two months earlier that bought nothing: closed journeys of both outcomes, for the
        # conversion model to learn from.
        earlier = (datetime.now(UTC) - timedelta(days=60)).isoformat()
        events += [
            {**m, "event": "product_viewed", "messageId": f"earlier-{n}", "timestamp": earlier}
            for n, m in enumerate(events[: size * 2])
        ]
        asyncio.run(ingest.through_http("seed", granular, "/graphql", events, 1))
    body = _post(granular, "mutation { fitModels { conversionModelError } }", {})
    error: str | None = body["data"]["fitModels"]["conversionModelError"]
    return error


def _post(granular: Process, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        granular.url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=300,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"{len(body['errors'])} errors, first: {body['errors'][0]}")
    return body


def seconds_per_page(granular: Process, query: str, repeats: int, size: int = PAGE) -> float:
    """The median time of one page of `size` (after one unmeasured request)."""
    _post(granular, query, {"first": size})
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        body = _post(granular, query, {"first": size})
        times.append(time.perf_counter() - started)
        assert len(body["data"]["profiles"]["edges"]) == size
    return statistics.median(times)
