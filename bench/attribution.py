"""Attribution over N journeys, bulk-loaded in the stored event shape (the ingest path is measured
separately): seconds for all seven models in one request, and the server's peak memory."""

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.harness import ADMIN_KEY, Process, peak_rss_mb

CHANNELS = [
    "email",
    "sms",
    "push",
    "paid_search",
    "paid_social",
    "organic_search",
    "organic_social",
    "affiliate",
    "referral",
    "direct",
]
TOUCHES = [
    "product_viewed",
    "category_browsed",
    "product_image_zoomed",
    "size_guide_viewed",
    "product_added",
    "checkout_started",
]
CONSENT = {
    "necessary": True,
    "analytics": True,
    "personalization": True,
    "marketing_email": True,
    "marketing_sms": True,
    "advertising": True,
}
QUERY = "{ attributionComparison(lookbackDays: 30) { model totalConversions rows { key conversions } } }"


def load(uri: str, database: str, workspace: str, events: int, seed: int) -> int:
    """About `events` events in journeys of 1–12 touches, a third of them ending in an order."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    docs: list[dict[str, Any]] = []
    written = 0
    with MongoClient(uri, w="majority", journal=True) as client:
        collection = client[database]["events"]
        profile = 0
        while written + len(docs) < events:
            profile += 1
            start = now - timedelta(days=rng.uniform(1, 80))
            for i in range(rng.randint(1, 12)):
                docs.append(
                    _doc(
                        workspace,
                        profile,
                        rng.choice(TOUCHES),
                        rng.choice(CHANNELS),
                        start + timedelta(hours=i * rng.uniform(1, 30)),
                        None,
                    )
                )
            if rng.random() < 0.33:
                docs.append(
                    _doc(
                        workspace,
                        profile,
                        "order_completed",
                        "direct",
                        start + timedelta(days=14),
                        rng.randint(20, 300),
                    )
                )
            if len(docs) >= 5000:
                collection.insert_many(docs, ordered=False)
                written += len(docs)
                docs = []
        if docs:
            collection.insert_many(docs, ordered=False)
            written += len(docs)
    return written


def _doc(
    workspace: str, profile: int, name: str, channel: str, at: datetime, revenue: int | None
) -> dict[str, Any]:
    return {
        "_id": ObjectId(),
        "workspace_id": workspace,
        "message_id": str(ObjectId()),
        "profile_id": f"prf_bench_{profile}",
        "type": "track",
        "event": name,
        "timestamp": at,
        "received_at": at,
        "phase": "ACTION" if revenue is not None else "DISCOVERY",
        "value": 1.0 if revenue is not None else 0.2,
        "planned": True,
        "channel": channel,
        "campaign": None,
        "properties": {"revenue": revenue} if revenue is not None else {},
        "context": {},
        "consent": CONSENT,
    }


def run(server: Process) -> float:
    started = time.perf_counter()
    response = httpx.post(
        server.url + "/graphql",
        json={"query": QUERY},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=3600,
    )
    response.raise_for_status()
    assert "errors" not in response.json(), response.text[:300]
    return time.perf_counter() - started


def server_peak_mb(server: Process) -> float:
    return peak_rss_mb(server.pid)
