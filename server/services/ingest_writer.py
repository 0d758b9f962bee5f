"""The one writer of an API process. Every ingest unit of work goes through it, one at a time, so
the batches of one process never conflict with each other; batches that arrive while a unit is being
written wait and are written together in the next unit (group commit), so more concurrent clients mean
fewer, larger transactions rather than more conflicts.

The writer is not a long-lived task: the first caller to find it idle starts a drain that runs until
the queue is empty. What waits is bounded (messages queued); beyond it callers are shed with
OVERLOADED (503, Retry-After) at once. A unit that fails for an unexpected reason is split until the
message that fails alone is found: that message is rejected by its index and the others are stored.
"""

import asyncio
import contextlib
import logging
import random
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymongo
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from server.domain.errors import GranularError, Overloaded, Unavailable
from server.domain.ingest import IngestResult, Rejection, TransactionScope
from server.domain.message import Message
from server.domain.profile import Profile
from server.domain.workspace import WorkspaceSettings
from server.metrics import INGEST_ATTEMPTS, INGEST_BATCHES, INGEST_UNITS
from server.services.ingest_unit import IngestStores, Submission, UnitOfWork
from server.services.vault import Vault
from server.storage.client import Client

logger = logging.getLogger("granular.ingest")

MAX_QUEUED_MESSAGES = 5_000
# Messages one unit takes (one transaction): enough to merge many small batches, small enough that a
# unit of full batches over distinct customers commits well inside its time budget.
MAX_UNIT_MESSAGES = 1_000
# A unit's whole transaction, retries included, has this long (every other database operation has the
# client's shorter budget): its writes are one command per collection, each carrying up to a
# thousand documents.
UNIT_SECONDS = 60.0
MAX_ATTEMPTS = 8

Committed = Callable[[str, Counter[str], datetime], Awaitable[None]]
# Told the profiles a committed unit changed (as the unit left them), after its transaction; it
# reports its own failures (the unit's data is committed whatever it does).
Changed = Callable[[str, list[Profile]], Coroutine[Any, Any, None]]


_CUSTOMERS_AT_ONCE = 16


def per_customer(submissions: list[Submission]) -> list[list[tuple[int, Submission]]]:
    """The unit split by customer: messages that share an identifier (directly or through others)
    stay together, in order; each part lists (index of its submission, the submission's messages in
    this part)."""
    parent: dict[str, str] = {}

    def root(hash_: str) -> str:
        while parent.setdefault(hash_, hash_) != hash_:
            parent[hash_] = parent[parent[hash_]]
            hash_ = parent[hash_]
        return hash_

    for submission in submissions:
        for message in submission.messages:
            first, *others = message.ids.hashes()
            for other in others:
                parent[root(other)] = root(first)
    parts: dict[str, dict[int, list[Message]]] = {}
    for origin, submission in enumerate(submissions):
        for message in submission.messages:
            parts.setdefault(root(message.ids.hashes()[0]), {}).setdefault(origin, []).append(message)
    return [
        [(origin, Submission(submissions[origin].principal, messages)) for origin, messages in part.items()]
        for part in parts.values()
    ]


class _TooManyAttempts(Exception):
    """A unit kept conflicting: give up this time (the caller gets 503 and retries later)."""


@dataclass
class _Waiting:
    workspace: WorkspaceSettings
    submission: Submission
    future: asyncio.Future[IngestResult]

    @property
    def size(self) -> int:
        return len(self.submission.messages)


def _duplicate_key(error: PyMongoError) -> bool:
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        return any(e.get("code") == 11000 for e in error.details.get("writeErrors", []))
    return False


class IngestWriter:
    def __init__(
        self,
        client: Client,
        stores: IngestStores,
        vault: Vault,
        *,
        clock: Callable[[], datetime],
        committed: Committed,
        changed: Changed | None = None,
        scope: TransactionScope = TransactionScope.BATCH,
        max_queued: int = MAX_QUEUED_MESSAGES,
        max_unit: int = MAX_UNIT_MESSAGES,
    ) -> None:
        self._scope = scope
        self._client = client
        self._stores = stores
        self._vault = vault
        self._clock = clock
        self._committed = committed
        self._changed = changed
        self._max_queued = max_queued
        self._max_unit = max_unit
        self._queue: deque[_Waiting] = deque()
        self._queued = 0
        self._drain: asyncio.Task[None] | None = None
        # What follows the last committed unit (audience upkeep): it runs while the next unit is
        # written, and the unit's callers are answered once it is done.
        self._following: asyncio.Task[None] | None = None

    async def write(self, workspace: WorkspaceSettings, submission: Submission) -> IngestResult:
        """Store the submission's messages (in a unit with whatever else is waiting); its result."""
        if not submission.messages:
            return IngestResult()
        if self._queue and self._queued + len(submission.messages) > self._max_queued:
            raise Overloaded("Too many events are waiting to be written; retry shortly.")
        waiting = _Waiting(workspace, submission, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        self._queued += waiting.size
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_queue())
        return await waiting.future

    async def _drain_queue(self) -> None:
        try:
            while self._queue:
                await self._commit(self._next_unit())
        except BaseException as error:
            # Never leave a caller waiting on a drain that stopped (cancelled at shutdown, or a bug).
            while self._queue:
                waiting = self._queue.popleft()
                self._queued -= waiting.size
                _settle(waiting.future, error=Unavailable("The writer stopped; retry shortly."))
            raise error

    def _next_unit(self) -> list[_Waiting]:
        """The oldest waiting batch and the following ones of its workspace, up to the unit's size."""
        first = self._queue.popleft()
        unit, size, skipped = [first], first.size, deque[_Waiting]()
        while self._queue and size + self._queue[0].size <= self._max_unit:
            waiting = self._queue.popleft()
            if waiting.workspace.id == first.workspace.id:
                unit.append(waiting)
                size += waiting.size
            else:
                skipped.append(waiting)
        self._queue.extendleft(reversed(skipped))
        self._queued -= size
        return unit

    async def _commit(self, unit: list[_Waiting]) -> None:
        workspace = unit[0].workspace
        try:
            results = await self._run(workspace, [w.submission for w in unit])
        except (PyMongoError, GranularError, _TooManyAttempts) as error:
            failure = (
                error
                if not isinstance(error, _TooManyAttempts)
                else Unavailable("Concurrent writes to the same customers kept conflicting; retry shortly.")
            )
            for waiting in unit:
                _settle(waiting.future, error=failure)
            return
        except Exception as error:
            _log_failure(error)
            for waiting in unit:
                try:
                    result = await self._isolate(workspace, waiting.submission)
                except (PyMongoError, GranularError, _TooManyAttempts) as failure:
                    _settle(waiting.future, error=failure)
                else:
                    _settle(waiting.future, result=result)
            return
        following = self._following
        if following is None or following.done():
            for waiting, result in zip(unit, results, strict=True):
                _settle(waiting.future, result=result)
            return

        def answer(_: asyncio.Task[None]) -> None:
            for waiting, result in zip(unit, results, strict=True):
                _settle(waiting.future, result=result)

        following.add_done_callback(answer)

    async def _isolate(self, workspace: WorkspaceSettings, submission: Submission) -> IngestResult:
        """The submission written in halves until the messages that fail on their own are found."""
        try:
            return (await self._transaction(workspace, [submission]))[0]
        except (PyMongoError, GranularError, _TooManyAttempts):
            raise
        except Exception as error:
            messages = submission.messages
            if len(messages) == 1:
                _log_failure(error)
                return IngestResult(
                    rejected=[
                        Rejection(
                            messages[0].index,
                            code="UNPROCESSABLE",
                            message="The message could not be stored.",
                            field=None,
                        )
                    ]
                )
            middle = len(messages) // 2
            result = await self._isolate(workspace, Submission(submission.principal, messages[:middle]))
            result.add(await self._isolate(workspace, Submission(submission.principal, messages[middle:])))
            return result

    async def _run(self, workspace: WorkspaceSettings, submissions: list[Submission]) -> list[IngestResult]:
        """The unit: one transaction, or on a sharded cluster one per customer (see TransactionScope)."""
        if self._scope is TransactionScope.BATCH:
            return await self._transaction(workspace, submissions)
        results = [IngestResult() for _ in submissions]
        parts = per_customer(submissions)
        places = asyncio.Semaphore(_CUSTOMERS_AT_ONCE)

        async def one(part: list[tuple[int, Submission]]) -> None:
            async with places:
                done = await self._transaction(workspace, [submission for _, submission in part])
            for (origin, _), result in zip(part, done, strict=True):
                results[origin].add(result)

        await asyncio.gather(*(one(part) for part in parts))
        return results

    async def _transaction(
        self, workspace: WorkspaceSettings, submissions: list[Submission]
    ) -> list[IngestResult]:
        """One unit in one transaction. A write conflict, or a copy of the same messages or
        identifiers committed after this unit read, makes it run again from the start (each attempt
        re-reads everything), at most MAX_ATTEMPTS times; a commit whose outcome is unknown is
        committed again (MongoDB makes that safe)."""
        received_at = self._clock()
        unit: UnitOfWork | None = None
        with pymongo.timeout(UNIT_SECONDS):
            async with self._client.start_session() as session:
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    INGEST_ATTEMPTS.inc()
                    if attempt > 1:
                        await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter
                    unit = UnitOfWork(self._stores, self._vault, workspace, submissions, received_at)
                    try:
                        await session.start_transaction()
                        await unit.run(session)
                        await _commit(session)
                        break
                    except PyMongoError as error:
                        if session.in_transaction:
                            await session.abort_transaction()
                        if not (error.has_error_label("TransientTransactionError") or _duplicate_key(error)):
                            raise
                        # Codes only: a server's message can quote the values that collided.
                        logger.info(
                            "ingest unit retried after %s (code %s)", type(error).__name__, _code(error)
                        )
                else:
                    raise _TooManyAttempts
        assert unit is not None
        INGEST_UNITS.inc()
        INGEST_BATCHES.inc(len(submissions))
        if unit.unplanned:
            await self._committed(workspace.id, unit.unplanned, received_at)
        if self._changed is not None and unit.changed:
            await self._follow(self._changed(workspace.id, [unit.profiles[p] for p in sorted(unit.changed)]))
        return unit.results

    async def _follow(self, upkeep: Coroutine[Any, Any, None]) -> None:
        """Upkeep of committed units runs one at a time, in commit order (the one before is awaited
        first), so at most one runs beside the writer and a profile's state is never applied out of
        order."""
        if self._following is not None:
            with contextlib.suppress(Exception):  # its failure is its own: never the next unit's
                await self._following
        self._following = asyncio.create_task(upkeep)


async def _commit(session: AsyncClientSession, tries: int = 3) -> None:
    for left in range(tries - 1, -1, -1):
        try:
            await session.commit_transaction()
            return
        except PyMongoError as error:
            if not left or not error.has_error_label("UnknownTransactionCommitResult"):
                raise


def _code(error: PyMongoError) -> object:
    if isinstance(error, BulkWriteError):
        return sorted({e.get("code") for e in error.details.get("writeErrors", [])})
    return getattr(error, "code", None)


def _settle(
    future: asyncio.Future[IngestResult],
    *,
    result: IngestResult | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # the caller went away; its messages were written (or not) all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def _log_failure(error: BaseException) -> None:
    # Class and frames only: a message could echo what the caller sent.
    logger.error(
        "ingest unit failed: %s\n%s", type(error).__name__, "".join(traceback.format_tb(error.__traceback__))
    )
