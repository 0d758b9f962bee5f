"""Ingest throughput and server CPU per event, against raw insert_many and a bare Starlette endpoint."""

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.harness import ADMIN_KEY, Process, cpu_seconds

EVENTS = [
    "product_viewed",
    "category_browsed",
    "product_image_zoomed",
    "size_guide_viewed",
    "product_added",
    "checkout_started",
    "payment_info_entered",
    "order_completed",
]
CONSENT = {"categoryPreferences": {"analytics": True, "personalization": True, "advertising": True}}
TRACK = (
    "mutation($e: [EventInput!]!) { trackEvents(events: $e) "
    "{ accepted duplicates droppedNoConsent rejected { index code } } }"
)


def messages(count: int, profiles: int, seed: int) -> list[dict[str, Any]]:
    """Segment-shaped track calls over `profiles` customers in the last 30 days (message ids unique
    per seed, so every run's events are new)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    result = []
    for _ in range(count):
        name = rng.choice(EVENTS)
        properties: dict[str, Any] = {
            "category": rng.choice(["shoes", "hats", "bags", "coats"]),
            "sku": f"SKU-{rng.randrange(500)}",
            "price": rng.randrange(10, 200),
        }
        if name == "order_completed":
            properties["revenue"] = rng.randrange(20, 300)
        result.append(
            {
                "type": "track",
                "event": name,
                "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                "anonymousId": f"anon-{rng.randrange(profiles)}",
                "timestamp": (now - timedelta(minutes=rng.randrange(60 * 24 * 30))).isoformat(),
                "properties": properties,
                "context": {
                    "consent": CONSENT,
                    "page": {"url": "https://shop.example/p?utm_medium=email"},
                    "ip": "203.0.113.9",
                },
            }
        )
    return result


@dataclass(frozen=True)
class Run:
    label: str
    events: int
    seconds: float
    cpu_us_per_event: float | None
    clients: int = 1
    server_errors: int = 0  # 5xx answers (each retried, as Segment's clients do)
    counters: dict[str, float] | None = None  # the server's /metrics deltas over the run

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def per_batch(self, name: str) -> float | None:
        if not self.counters or not self.counters.get("granular_ingest_batches_total"):
            return None
        return self.counters.get(name, 0.0) / self.counters["granular_ingest_batches_total"]


def counters(server: Process) -> dict[str, float]:
    """The ingest and database counters of the server's /metrics (summed over their labels)."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("granular_db_commands_total", "granular_ingest_")):
            name, value = line.split("{")[0].split(" ")[0], float(line.rsplit(" ", 1)[1])
            totals[name] = totals.get(name, 0.0) + value
    return totals


async def _post_all(url: str, bodies: list[Any], headers: dict[str, str], clients: int, graphql: bool) -> int:
    """Post every body with `clients` concurrent clients; the number of 5xx answers (each retried)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    server_errors = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal server_errors
        while not queue.empty():
            body = queue.get_nowait()
            response = await http.post(url, json=body, headers=headers)
            for _ in range(10):  # as Segment's clients do: a 5xx is retried after Retry-After
                if response.status_code < 500:
                    break
                server_errors += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                response = await http.post(url, json=body, headers=headers)
            response.raise_for_status()
            if graphql:
                assert "errors" not in response.json(), response.text[:300]

    async with httpx.AsyncClient(timeout=300) as http:
        await asyncio.gather(*(worker(http) for _ in range(clients)))
    return server_errors


def batches(events: list[dict[str, Any]], size: int = 500) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


async def through_http(
    label: str, server: Process, path: str, events: list[dict[str, Any]], clients: int
) -> Run:
    graphql = path == "/graphql"
    bodies: list[Any] = [
        {"query": TRACK, "variables": {"e": batch}} if graphql else {"batch": batch}
        for batch in batches(events)
    ]
    granular = path != "/ingest"
    before, metrics_before = cpu_seconds(server.pid), counters(server) if granular else {}
    started = time.perf_counter()
    errors = await _post_all(
        server.url + path, bodies, {"Authorization": f"Bearer {ADMIN_KEY}"}, clients, graphql
    )
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(server.pid) - before
    deltas = None
    if granular:
        after = counters(server)
        deltas = {name: after[name] - metrics_before.get(name, 0.0) for name in after}
    return Run(label, len(events), seconds, cpu / len(events) * 1e6, clients, errors, deltas)


async def raw_insert_many(uri: str, database: str, events: list[dict[str, Any]]) -> Run:
    """The floor: the same documents straight into the same database with the same write concern."""
    client: AsyncMongoClient = AsyncMongoClient(uri, w="majority", journal=True)  # type: ignore[type-arg]
    try:
        collection = client[database]["raw_events"]
        started = time.perf_counter()
        for batch in batches(events):
            await collection.insert_many([dict(e) for e in batch], ordered=False)
        return Run("raw insert_many", len(events), time.perf_counter() - started, None)
    finally:
        await client.close()
