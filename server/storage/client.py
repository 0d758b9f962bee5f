"""The one AsyncMongoClient: durable writes, retryable operations, bounded server time."""

from collections.abc import Sequence
from typing import Any, TypeAlias

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from server.metrics import DB_COMMANDS

Document: TypeAlias = dict[str, Any]
Database: TypeAlias = AsyncDatabase[Document]
Client: TypeAlias = AsyncMongoClient[Document]


class _CommandCounter(monitoring.CommandListener):
    """Counts commands by name for /metrics (what a batch or a page costs the database)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        DB_COMMANDS.labels(event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def connect(
    uri: str,
    *,
    timeout_ms: int = 10_000,
    heartbeat_ms: int | None = None,
    listeners: Sequence[monitoring.CommandListener] = (),
) -> Client:
    """A client whose acknowledged writes are majority-committed and journaled (DESIGN §2)."""
    options: dict[str, object] = {
        "w": "majority",
        "journal": True,
        "retryWrites": True,
        "retryReads": True,
        "serverSelectionTimeoutMS": timeout_ms,
        "timeoutMS": timeout_ms,
        "tz_aware": True,
        "appname": "granular",
        "event_listeners": [_CommandCounter(), *listeners],
    }
    if heartbeat_ms is not None:
        options["heartbeatFrequencyMS"] = heartbeat_ms
    return AsyncMongoClient(uri, **options)


# Documents one erasure or cleanup step deletes at most: each command stays well inside the budget.
DELETE_CHUNK = 1000


async def delete_chunk(
    collection: AsyncCollection[Document], query: Document, limit: int = DELETE_CHUNK
) -> int:
    """Delete at most `limit` documents matching `query`, by their ids: one bounded step of a larger
    deletion (call until it returns 0), so no single command outlives the time budget."""
    ids = [doc["_id"] async for doc in collection.find(query, {"_id": 1}).limit(limit)]
    if not ids:
        return 0
    return (await collection.delete_many({"_id": {"$in": ids}})).deleted_count
