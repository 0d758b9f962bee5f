"""The one AsyncMongoClient: durable writes, retryable operations, bounded server time."""

from typing import Any, TypeAlias

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

Document: TypeAlias = dict[str, Any]
Database: TypeAlias = AsyncDatabase[Document]
Client: TypeAlias = AsyncMongoClient[Document]


def connect(uri: str, *, timeout_ms: int = 10_000, heartbeat_ms: int | None = None) -> Client:
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
    }
    if heartbeat_ms is not None:
        options["heartbeatFrequencyMS"] = heartbeat_ms
    return AsyncMongoClient(uri, **options)
