"""fitModels over N customers whose purchases are bulk-loaded in the stored event shape."""

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.attribution import CONSENT
from bench.harness import ADMIN_KEY, Process, peak_rss_mb

QUERY = "mutation { fitModels { customers durationMs bgnbdError gammaGammaError } }"


def load(uri: str, database: str, customers: int, seed: int) -> int:
    """Customers from the BG/NBD + Gamma-Gamma world (weekly rates, per-customer spend)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    written = 0
    docs: list[dict[str, Any]] = []
    with MongoClient(uri, w="majority", journal=True) as client:
        collection = client[database]["events"]
        for number in range(customers):
            rate, dropout = rng.gammavariate(0.24, 1 / 4.41), rng.betavariate(0.79, 2.43)
            nu, age = rng.gammavariate(3.74, 1 / 15.44), rng.uniform(8, 52)
            weeks, t = [age], 0.0
            while rate > 0 and not (len(weeks) > 1 and rng.random() < dropout):
                t += rng.expovariate(rate)
                if t >= age:
                    break
                weeks.append(age - t)
            for w in weeks:
                at = now - timedelta(weeks=w)
                docs.append(
                    {
                        "_id": ObjectId(),
                        "workspace_id": "default",
                        "message_id": str(ObjectId()),
                        "profile_id": f"prf_ltv_{number}",
                        "type": "track",
                        "event": "order_completed",
                        "timestamp": at,
                        "received_at": at,
                        "phase": "ACTION",
                        "value": 1.0,
                        "planned": True,
                        "channel": "direct",
                        "campaign": None,
                        "properties": {"revenue": round(rng.gammavariate(6.25, 1 / nu), 2)},
                        "context": {},
                        "consent": CONSENT,
                    }
                )
            if len(docs) >= 5000:
                collection.insert_many(docs, ordered=False)
                written, docs = written + len(docs), []
        if docs:
            collection.insert_many(docs, ordered=False)
            written += len(docs)
    return written


def fit(server: Process) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = httpx.post(
        server.url + "/graphql",
        json={"query": QUERY},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=3600,
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, response.text[:300]
    return time.perf_counter() - started, body["data"]["fitModels"]


def peak_mb(server: Process) -> float:
    return peak_rss_mb(server.pid)
