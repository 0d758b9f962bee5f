"""Retention in the database: the `expireAt` field and its TTL index on every retained collection,
re-stamping a workspace's documents in bounded batches, and what each collection holds."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel, UpdateOne

from server.domain.retention import DataKind, expires_at
from server.storage.client import Database, Document

# MongoDB's "expire at a specific clock time" pattern: the TTL monitor deletes a document once
# this time has passed (expireAfterSeconds=0).
EXPIRE_AT = "expireAt"
TTL_INDEX = IndexModel([(EXPIRE_AT, ASCENDING)], expireAfterSeconds=0, name="expire_at")
RESTAMP_BATCH = 1000

# The collection of each kind, and the field its retention counts from.
_RETAINED: dict[DataKind, tuple[str, str]] = {
    DataKind.EVENTS: ("events", "timestamp"),
    DataKind.PROFILES: ("profiles", "last_active"),
    DataKind.CONSENT_LEDGER: ("consent_ledger", "at"),
    DataKind.DSR_REQUESTS: ("dsr_requests", "received_at"),
    DataKind.AUDIT_LOG: ("audit_log", "at"),
}


def collection_of(kind: DataKind) -> str:
    return _RETAINED[kind][0]


@dataclass(frozen=True)
class Restamped:
    documents: int
    batches: int  # update commands sent, each naming at most the batch size of ids


@dataclass(frozen=True)
class Census:
    documents: int
    expiring: int  # expireAt at or before the horizon (overdue ones included: the next TTL pass)
    oldest: datetime | None  # the earliest basis time


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def restamp(
        self, workspace_id: str, kind: DataKind, kept: timedelta, *, batch_size: int = RESTAMP_BATCH
    ) -> Restamped:
        """expireAt = basis + kept on every document of the workspace: one pass reading (id, basis),
        writing at most `batch_size` updates per command, so no command runs long or holds much.

        Each update names the basis it was computed from: a document written again meanwhile (a
        profile seen again) is left as that write stamped it, already with the new period."""
        name, basis = _RETAINED[kind]
        collection = self._db[name]
        documents = batches = 0
        pending: list[UpdateOne] = []

        async def flush() -> None:
            nonlocal documents, batches
            result = await collection.bulk_write(pending, ordered=False)
            documents += result.matched_count
            batches += 1
            pending.clear()

        # A pipeline update ($add on the basis, per batch of ids) was probed too: SecantusDB plans an
        # `_id` range or `$in` within a workspace as a collection scan, so batches of it grow with the
        # square of the collection, while updates by `_id` stay linear.
        cursor = collection.find(
            {"workspace_id": workspace_id, basis: {"$type": "date"}}, {basis: 1}, batch_size=batch_size
        )
        async for doc in cursor:
            pending.append(
                UpdateOne(
                    {"_id": doc["_id"], "workspace_id": workspace_id, basis: doc[basis]},
                    {"$set": {EXPIRE_AT: expires_at(doc[basis], kept)}},
                )
            )
            if len(pending) == batch_size:
                await flush()
        if pending:
            await flush()
        return Restamped(documents, batches)

    async def census(self, workspace_id: str, kind: DataKind, *, until: datetime) -> Census:
        """How many documents the workspace holds, how many expire by `until`, and the oldest basis."""
        name, basis = _RETAINED[kind]
        collection = self._db[name]
        mine: Document = {"workspace_id": workspace_id}
        oldest = await collection.find_one(
            {**mine, basis: {"$type": "date"}}, {basis: 1}, sort=[(basis, ASCENDING)]
        )
        return Census(
            documents=await collection.count_documents(mine),
            expiring=await collection.count_documents({**mine, EXPIRE_AT: {"$lte": until}}),
            oldest=oldest[basis] if oldest else None,
        )
