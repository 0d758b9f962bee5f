"""Live changes for subscriptions: one change stream per collection and process, fanned out to every
subscriber, however many sockets and subscriptions there are.

A stream runs while anyone listens (started by the first subscriber, stopped after the last) and
is restarted if it fails, from the last change it saw: none in between is lost (unless the database
no longer holds that far back; then it starts afresh). A subscriber holds, per item it follows (a
profile), only the newest change: a slow consumer skips intermediate states instead of queueing them.
One that falls more than MAX_PENDING distinct items behind is ended (TOO_FAR_BEHIND), so memory per
subscription is bounded. Each key may hold at most `per_key` subscriptions across all its sockets and
every feed (TOO_MANY_SUBSCRIPTIONS).
"""

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pymongo.errors import OperationFailure

from server.domain.access import Principal
from server.domain.errors import Overloaded, Unavailable
from server.services.background import gave_up
from server.storage.client import StreamPosition

DEFAULT_SUBSCRIPTIONS_PER_KEY = 100
MAX_PENDING = 10_000
RESTART_DELAY_SECONDS = 1.0
OPEN_SECONDS = 10.0
# The database cannot resume from the token: ChangeStreamFatalError, ChangeStreamHistoryLost.
_CANNOT_RESUME = frozenset({280, 286})

T = TypeVar("T")
# Every change from a position on; calls its first argument once watching.
Source = Callable[[Callable[[], None], StreamPosition], AsyncIterator[T]]


class SubscriptionQuota:
    """How many subscriptions each key holds, across sockets and feeds."""

    def __init__(self, per_key: int) -> None:
        self._per_key = per_key
        self._held: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, principal: Principal, field: str) -> Iterator[None]:
        if self._held[principal.key_id] >= self._per_key:
            raise Overloaded(
                f"A key may hold at most {self._per_key} subscriptions; close one first.",
                field=field,
                code="TOO_MANY_SUBSCRIPTIONS",
            )
        self._held[principal.key_id] += 1
        try:
            yield
        finally:
            self._held[principal.key_id] -= 1
            if self._held[principal.key_id] <= 0:
                del self._held[principal.key_id]


@dataclass(eq=False)
class _Subscriber(Generic[T]):
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pending: OrderedDict[str, T] = field(default_factory=OrderedDict)
    behind: bool = False

    def offer(self, item: str, change: T) -> None:
        self.pending.pop(item, None)
        self.pending[item] = change
        if len(self.pending) > MAX_PENDING:
            self.behind = True
            self.pending.clear()
        self.changed.set()

    async def changes(self) -> AsyncIterator[T]:
        while True:
            await self.changed.wait()
            self.changed.clear()
            if self.behind:
                raise Overloaded(
                    f"The subscriber fell more than {MAX_PENDING} changes behind; read the current "
                    "state and subscribe again.",
                    code="TOO_FAR_BEHIND",
                )
            while self.pending:
                yield self.pending.popitem(last=False)[1]


class ChangeFeed(Generic[T]):
    """Changes of one collection, each for a subject (a profile, an audience) and about an item
    (a profile: what a slow subscriber keeps only the newest change of). Subjects are random ids
    the services check belong to the caller's workspace before subscribing."""

    def __init__(
        self,
        name: str,
        source: Source[T],
        quota: SubscriptionQuota,
        *,
        subject: Callable[[T], str],
        item: Callable[[T], str],
        restart_delay: float = RESTART_DELAY_SECONDS,
    ) -> None:
        self._name = name
        self._source = source
        self._quota = quota
        self._subject = subject
        self._item = item
        self._restart_delay = restart_delay
        self._listeners: dict[str, set[_Subscriber[T]]] = {}
        self._stream: asyncio.Task[None] | None = None
        self._position = StreamPosition()
        self._watching = asyncio.Event()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, principal: Principal, subject_id: str, *, field: str
    ) -> AsyncIterator[AsyncIterator[T]]:
        """The subject's changes from now on, for as long as the block runs."""
        with self._quota.hold(principal, field):
            subscriber: _Subscriber[T] = _Subscriber()
            self._listeners.setdefault(subject_id, set()).add(subscriber)
            if self._stream is None or self._stream.done():
                self._watching.clear()
                self._position = StreamPosition()  # a new stream starts now: no one waits for older changes
                self._stream = asyncio.create_task(self._run(), name=self._name)
            try:
                # Once the stream watches, no change after this point can be missed.
                try:
                    async with asyncio.timeout(OPEN_SECONDS):
                        await self._watching.wait()
                except TimeoutError:
                    raise Unavailable("The database is unavailable; retry later.") from None
                yield subscriber.changes()
            finally:
                self._listeners[subject_id].discard(subscriber)
                if not self._listeners[subject_id]:
                    del self._listeners[subject_id]
                if not self._listeners and self._stream is not None:
                    self._stream.cancel()
                    self._stream = None

    async def _run(self) -> None:
        while self._listeners:
            try:
                async for change in self._source(self._watching.set, self._position):
                    for subscriber in self._listeners.get(self._subject(change), ()):
                        subscriber.offer(self._item(change), change)
            except Exception as error:  # the stream failed: its subscribers wait for the next one
                if isinstance(error, OperationFailure) and error.code in _CANNOT_RESUME:
                    self._position = StreamPosition()
                gave_up(self._name, error)
            self._watching.clear()
            await asyncio.sleep(self._restart_delay)
