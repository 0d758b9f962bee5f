"""The one AsyncMongoClient: durable writes, retryable operations, bounded server time."""

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeAlias, TypeVar

import pymongo.lock
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

Document: TypeAlias = dict[str, Any]
Database: TypeAlias = AsyncDatabase[Document]
Client: TypeAlias = AsyncMongoClient[Document]
T = TypeVar("T")


async def _wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109 - wait_for's own signature
    """asyncio.wait_for as Python 3.12 has it (gh-96764): the awaitable runs in the caller's task,
    with no inner task whose result a cancellation can throw away."""
    async with asyncio.timeout(timeout):
        return await awaitable


if sys.version_info < (3, 12):
    # The wedge (issue 18): PyMongo waits for a pool slot with asyncio.wait_for(condition.wait(),
    # deadline). On Python 3.11, a request task cancelled just as that wait times out (graphql-core
    # cancels sibling resolvers when one fails) drops the inner task's result: the pool lock it
    # re-acquired is never released, and every later operation — /readyz's ping too — waits on
    # that lock forever. Python 3.12's wait_for cannot do this; this gives 3.11 the same one.
    pymongo.lock.wait_for = _wait_for  # type: ignore[attr-defined]


def connect(
    uri: str, *, timeout_ms: int = 10_000, heartbeat_ms: int | None = None, pool_size: int = 100
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
        "maxPoolSize": pool_size,
    }
    if heartbeat_ms is not None:
        options["heartbeatFrequencyMS"] = heartbeat_ms
    return AsyncMongoClient(uri, **options)
