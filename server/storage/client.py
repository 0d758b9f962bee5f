"""The one AsyncMongoClient: durable writes, retryable operations, bounded server time."""

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import pymongo
import pymongo.lock
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from server.metrics import DB_COMMANDS

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
    pymongo.lock.wait_for = _wait_for  # type: ignore[attr-defined,assignment]  # takes coroutines only, as PyMongo passes


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
    pool_size: int = 100,
    listeners: Sequence[monitoring.CommandListener] = (),
) -> Client:
    """A client whose acknowledged writes are majority-committed and journaled (DESIGN §2)."""
    options: dict[str, Any] = {  # keyword options of differing types, checked by PyMongo
        "w": "majority",
        "journal": True,
        "retryWrites": True,
        "retryReads": True,
        "serverSelectionTimeoutMS": timeout_ms,
        "timeoutMS": timeout_ms,
        "tz_aware": True,
        "appname": "granular",
        "maxPoolSize": pool_size,
        "event_listeners": [_CommandCounter(), *listeners],
    }
    if heartbeat_ms is not None:
        options["heartbeatFrequencyMS"] = heartbeat_ms
    return AsyncMongoClient(uri, **options)


# The embedded database checks `$in` against the whole list for every document it returns, so one read
# of n ids costs n² (750 `_id`s: 0.57 s, in chunks of 50: 0.09 s; a page's 2,272 events of 200
# profiles: 0.73 s, in chunks of 50: 0.26 s). Reads that may carry many ids send them IN_CHUNK at a
# time: a bounded number of commands (at most 10 for the largest page, 500), which costs a real
# MongoDB only the extra round trips.
IN_CHUNK = 50


def chunks(ids: Sequence[str]) -> list[list[str]]:
    """`ids` in runs of at most IN_CHUNK, in order."""
    return [list(ids[i : i + IN_CHUNK]) for i in range(0, len(ids), IN_CHUNK)]


async def find_in(
    collection: AsyncCollection[Document],
    field: str,
    ids: Iterable[str],
    projection: Document | None = None,
    *,
    session: AsyncClientSession | None = None,
) -> AsyncIterator[Document]:
    """The documents whose `field` is one of `ids`, the ids sent IN_CHUNK at a time."""
    for chunk in chunks(sorted(set(ids))):
        async for doc in collection.find({field: {"$in": chunk}}, projection, session=session):
            yield doc


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


async def is_sharded(db: Database) -> bool:
    """Whether the database is a sharded cluster: a mongos answers `hello` with msg "isdbgrid"."""
    return (await db.command("hello")).get("msg") == "isdbgrid"


@dataclass
class StreamPosition:
    """Where a change stream stands: the resume token to open it again after."""

    token: Mapping[str, Any] | None = None


async def watch(
    collection: AsyncCollection[Document],
    pipeline: list[Document],
    opened: Callable[[], None],
    position: StreamPosition,
    *,
    full_document: str | None = None,
) -> AsyncIterator[Document]:
    """Every change event of `collection` that passes `pipeline`: the one stream a process watches
    for all its subscribers of that collection; `opened` is called once it is watching.
    It starts after `position` when that holds a token, and keeps it at the last change seen (or
    the last empty wait), so a stream opened again after a failure misses nothing.
    It waits for changes with no time budget (timeoutMS 0 is "none" in PyMongo's client-side
    timeouts): a quiet stream is not a slow one."""
    with pymongo.timeout(0):
        async with await collection.watch(
            pipeline, full_document=full_document, resume_after=position.token
        ) as stream:
            position.token = stream.resume_token
            opened()
            while True:
                change = await stream.try_next()
                position.token = stream.resume_token
                if change:
                    yield change
