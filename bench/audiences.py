"""Audiences: the ingest cost of membership upkeep, and listing a large audience against the bare scan
of the same index."""

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench import ingest
from bench.harness import ADMIN_KEY, Process, start_granular

DEFINE = "mutation($input: AudienceInput!) { defineAudience(input: $input) { audience { id } } }"
MEMBERS = """query($id: ID!, $after: String) { audience(id: $id) { members(first: 500, after: $after) {
  edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""
CATEGORIES = ("shoes", "hats", "bags", "coats")


def twenty_rules() -> list[dict[str, Any]]:
    """Twenty audiences of the kinds the issue lists, over the bench shop's categories and events."""
    rules: list[dict[str, Any]] = []
    for category in CATEGORIES:
        key = f"category:{category}"
        rules += [
            {"all": [{"phase": ["INTENT"]}, {"affinity": {"key": key, "minWeight": 0.5}}]},
            {"all": [{"affinity": {"key": key, "minWeight": 1.0}}, {"intent": {"min": 0.5}}]},
            {"any": [{"engagement": {"min": 2.0}}, {"affinity": {"key": key, "minWeight": 2.0}}]},
        ]
    rules += [
        {"lastSeenWithinDays": 7},
        {"not": {"phase": ["ACTION"]}},
        {"consent": "ADVERTISING"},
        {"didEvent": {"event": "product_viewed", "atLeast": 3, "withinDays": 14}},
        {"didEvent": {"event": "checkout_started", "atLeast": 1, "withinDays": 7}},
        {"all": [{"phase": ["INTEREST", "INTENT"]}, {"engagement": {"max": 1.0}}]},
        {"ltv": {"measure": "ORDERS", "min": 1}},
        {"ltv": {"measure": "REVENUE", "min": 100}},
    ]
    return rules


def _post(server: Process, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        server.url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=600,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"{len(body['errors'])} errors, first: {body['errors'][0]}")
    return body


@dataclass(frozen=True)
class Restricted:
    """Seconds of one attributionComparison over the same data: for everyone, and restricted to an
    audience of `members` (its current members, and its members as of a `to` just past)."""

    members: int
    everyone: float
    current: float
    everyone_to: float
    as_of: float


COMPARISON = """query($audience: ID, $to: DateTime) { attributionComparison(audience: $audience, to: $to) {
  model totalConversions } }"""
SIZE = "query($id: ID!) { audience(id: $id) { size } }"
# The broadest of the twenty (nearly every profile): the restriction's join does the most work.
BROADEST = {"lastSeenWithinDays": 7}


def _median_seconds(server: Process, variables: dict[str, Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        _post(server, COMPARISON, variables)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _restricted(server: Process, audience: str) -> Restricted:
    to = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    return Restricted(
        members=_post(server, SIZE, {"id": audience})["data"]["audience"]["size"],
        everyone=_median_seconds(server, {"audience": None, "to": None}),
        current=_median_seconds(server, {"audience": audience, "to": None}),
        everyone_to=_median_seconds(server, {"audience": None, "to": to}),
        as_of=_median_seconds(server, {"audience": audience, "to": to}),
    )


async def ingest_with_and_without(
    uri: str, root: Path, n: int, profiles: int
) -> tuple[ingest.Run, ingest.Run, Restricted]:
    """The same messages through POST /v1/batch (4 clients) into two fresh databases: one with no
    audience, one with twenty; then, on the second, attribution restricted to the broadest audience
    against the same attribution unrestricted."""
    runs = []
    for audiences in (0, 20):
        database = f"bench_audiences_{audiences}"
        (root / database).mkdir(exist_ok=True)
        server = start_granular(uri, database, root / database)
        try:
            defined = {
                str(rule): _post(server, DEFINE, {"input": {"name": f"audience {number}", "rule": rule}})
                for number, rule in enumerate(twenty_rules()[:audiences])
            }
            events = ingest.messages(n, profiles, seed=41)
            runs.append(
                await ingest.through_http(f"{audiences} audiences", server, "/v1/batch", events, clients=4)
            )
            if defined:
                broadest = defined[str(BROADEST)]["data"]["defineAudience"]["audience"]["id"]
                restricted = _restricted(server, broadest)
        finally:
            server.stop()
    return runs[0], runs[1], restricted


def listing(uri: str, root: Path, members: int) -> tuple[float, float]:
    """(members/s through `audience { members }` pages of 500, members/s of the raw driver's scan of
    the same `_id` range), over an audience of `members` profiles bulk-loaded in the stored shape."""
    database = "bench_audience_list"
    (root / database).mkdir(exist_ok=True)
    server = start_granular(uri, database, root / database)
    try:
        now = datetime.now(UTC)
        audience = "aud_bench"
        with MongoClient(uri) as client:
            db = client[database]
            db["audiences"].insert_one(
                {
                    "_id": audience,
                    "workspace_id": "default",
                    "name": "bench",
                    "purpose": None,
                    "rule": {"phase": ["INTENT"]},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            ids = [f"prf_{i:024x}" for i in range(members)]
            granted = {"personalization": {"granted": True, "source": "api", "at": now}}
            for start in range(0, members, 1000):
                chunk = ids[start : start + 1000]
                db["profiles"].insert_many(
                    [
                        {"_id": p, "workspace_id": "default", "merged_into": None, "consent": granted}
                        for p in chunk
                    ]
                )
                db["audience_members"].insert_many(
                    [
                        {
                            "_id": f"{audience}:{p}",
                            "workspace_id": "default",
                            "audience_id": audience,
                            "profile_id": p,
                            "since": now,
                        }
                        for p in chunk
                    ]
                )
            started = time.perf_counter()
            scanned = sum(
                1
                for _ in db["audience_members"]
                .find({"_id": {"$gt": f"{audience}:", "$lt": f"{audience}:\uffff"}})
                .sort("_id", 1)
                .batch_size(500)
            )
            raw = scanned / (time.perf_counter() - started)
        listed, after = 0, None
        started = time.perf_counter()
        while True:
            page = _post(server, MEMBERS, {"id": audience, "after": after})["data"]["audience"]["members"]
            listed += len(page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        api = listed / (time.perf_counter() - started)
        assert listed == members == scanned, (listed, members, scanned)
        return api, raw
    finally:
        server.stop()
