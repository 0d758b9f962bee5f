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
import logging
import random
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from server.domain.errors import GranularError, Overloaded, Unavailable
from server.domain.ingest import IngestResult, Rejection
from server.domain.workspace import WorkspaceSettings
from server.metrics import INGEST_ATTEMPTS, INGEST_BATCHES, INGEST_UNITS
from server.services.ingest_unit import IngestStores, Submission, UnitOfWork
from server.services.vault import Vault
from server.storage.client import Client

logger = logging.getLogger("granular.ingest")

MAX_QUEUED_MESSAGES = 5_000
MAX_UNIT_MESSAGES = 2_000
MAX_ATTEMPTS = 8

Committed = Callable[[str, Counter[str], datetime], Awaitable[None]]


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
        max_queued: int = MAX_QUEUED_MESSAGES,
        max_unit: int = MAX_UNIT_MESSAGES,
    ) -> None:
        self._client = client
        self._stores = stores
        self._vault = vault
        self._clock = clock
        self._committed = committed
        self._max_queued = max_queued
        self._max_unit = max_unit
        self._queue: deque[_Waiting] = deque()
        self._queued = 0
        self._drain: asyncio.Task[None] | None = None

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
        for waiting, result in zip(unit, results, strict=True):
            _settle(waiting.future, result=result)

    async def _isolate(self, workspace: WorkspaceSettings, submission: Submission) -> IngestResult:
        """The submission written in halves until the messages that fail on their own are found."""
        try:
            return (await self._run(workspace, [submission]))[0]
        except (PyMongoError, GranularError, _TooManyAttempts):
            raise
        except Exception as error:
            messages = submission.messages
            if len(messages) == 1:
                _log_failure(error)
                return IngestResult(
                    rejected=[
                        Rejection(
                            messages[0].index, "UNPROCESSABLE", "The message could not be stored.", None
                        )
                    ]
                )
            middle = len(messages) // 2
            result = await self._isolate(workspace, Submission(submission.principal, messages[:middle]))
            result.add(await self._isolate(workspace, Submission(submission.principal, messages[middle:])))
            return result

    async def _run(self, workspace: WorkspaceSettings, submissions: list[Submission]) -> list[IngestResult]:
        """One unit in one transaction; write conflicts and a racing copy of the same messages make
        it run again from the start (each attempt re-reads everything), at most MAX_ATTEMPTS times."""
        received_at = self._clock()
        attempts = 0
        unit: UnitOfWork | None = None

        async def attempt(session: AsyncClientSession) -> None:
            nonlocal attempts, unit
            attempts += 1
            INGEST_ATTEMPTS.inc()
            if attempts > MAX_ATTEMPTS:
                raise _TooManyAttempts
            if attempts > 1:
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempts))  # noqa: S311 - jitter
            unit = UnitOfWork(self._stores, self._vault, workspace, submissions, received_at)
            await unit.run(session)

        while True:
            try:
                async with self._client.start_session() as session:
                    await session.with_transaction(attempt)
                break
            except PyMongoError as error:
                # A copy of these messages (or identifiers) committed after this unit read: re-judge.
                if not _duplicate_key(error) or attempts >= MAX_ATTEMPTS:
                    raise
        assert unit is not None
        INGEST_UNITS.inc()
        INGEST_BATCHES.inc(len(submissions))
        if unit.unplanned:
            await self._committed(workspace.id, unit.unplanned, received_at)
        return unit.results


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
