"""The ceiling for ingest: exactly the database work Granular's design needs per batch, done by a bare
raw-driver script (no validation, consent, minimization or scoring): in one transaction, read the
identity documents, the profiles and the message ids already stored (by `_id` or an indexed `$in`),
insert the events and replace the profiles, with the same indexes and write concern. Its events/s
is the best this database can do for these writes; Granular ÷ ceiling is what the API costs."""

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient, ReplaceOne, UpdateOne

from server.storage.indexes import ensure_indexes

WORKSPACE = "ceiling"


def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{WORKSPACE}|{kind}|{value}".encode()).hexdigest()


def _event(message: dict[str, Any], profile_id: str, now: datetime) -> dict[str, Any]:
    """A document of the size and shape Granular stores for a message."""
    properties = message.get("properties", {})
    return {
        "_id": ObjectId(),
        "workspace_id": WORKSPACE,
        "message_id": message["messageId"],
        "profile_id": profile_id,
        "type": "track",
        "event": message["event"],
        "timestamp": datetime.fromisoformat(message["timestamp"]),
        "received_at": now,
        "phase": "DISCOVERY",
        "value": 0.1,
        "planned": True,
        "channel": "email",
        "campaign": None,
        "properties": properties,
        "context": {"page": {"url": "https://shop.example/p?utm_medium=email"}, "ip": "203.0.113.0"},
        "consent": {"necessary": True, "analytics": True, "personalization": True},
        "expireAt": now,
    }


def _profile(
    profile_id: str, anonymous_id: str, previous: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    doc = previous or {
        "_id": profile_id,
        "workspace_id": WORKSPACE,
        "user_id": None,
        "anonymous_ids": [anonymous_id],
        "user_aliases": [],
        "traits": {},
        "pii": {},
        "blind_index": [],
        "consent": {"analytics": {"granted": True, "source": "event", "at": now}},
        "consent_head": {"seq": 1, "hash": "0" * 64},
        "scores": {"engagement": {"total": 0.0, "ref": now}, "journey": {"total": 0.0, "ref": now}},
        "affinities": {},
        "merged_into": None,
    }
    doc["scores"]["engagement"]["total"] += 0.1
    doc["last_active"] = now
    doc["expireAt"] = now
    return doc


async def same_writes(uri: str, database: str, batches: list[list[dict[str, Any]]]) -> float:
    """Seconds to write these batches the way the design does, one transaction per batch."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, w="majority", journal=True, tz_aware=True
    )
    try:
        db = client[database]
        await ensure_indexes(db)
        started = time.perf_counter()
        for batch in batches:
            async with client.start_session() as session, await session.start_transaction():
                now = datetime.now(UTC)
                anonymous = sorted({m["anonymousId"] for m in batch})
                hashes = {a: _hash("anonymous_id", a) for a in anonymous}
                known = {
                    doc["_id"]: doc["profile_id"]
                    async for doc in db["identities"].find(
                        {"_id": {"$in": list(hashes.values())}}, session=session
                    )
                }
                profiles = {
                    doc["_id"]: doc
                    async for doc in db["profiles"].find(
                        {"_id": {"$in": list(known.values())}}, session=session
                    )
                }
                await (
                    db["events"]
                    .find(
                        {"workspace_id": WORKSPACE, "message_id": {"$in": [m["messageId"] for m in batch]}},
                        {"message_id": 1, "_id": 0},
                        session=session,
                    )
                    .to_list()
                )
                owner = {a: known.get(h) or "p-" + h[:24] for a, h in hashes.items()}
                new = [
                    UpdateOne(
                        {"_id": h},
                        {"$set": {"profile_id": owner[a], "workspace_id": WORKSPACE, "kind": "anonymous_id"}},
                        upsert=True,
                    )
                    for a, h in hashes.items()
                    if h not in known
                ]
                if new:
                    await db["identities"].bulk_write(new, session=session)
                await db["events"].insert_many(
                    [_event(m, owner[m["anonymousId"]], now) for m in batch], session=session
                )
                replaced = {owner[a]: _profile(owner[a], a, profiles.get(owner[a]), now) for a in anonymous}
                await db["profiles"].bulk_write(
                    [ReplaceOne({"_id": pid}, doc, upsert=True) for pid, doc in replaced.items()],
                    session=session,
                )
        return time.perf_counter() - started
    finally:
        await client.close()
