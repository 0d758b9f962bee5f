"""Live profile changes for subscriptions: one change stream per process, fanned out to every
subscriber, however many sockets and subscriptions there are.

The stream runs while anyone listens (started by the first subscriber, stopped after the last) and
is restarted if it fails, from the last change it saw: none in between is lost (unless the database
no longer holds that far back; then it starts afresh). A subscriber holds only the newest state of
its profile: a slow consumer skips intermediate states instead of queueing them, so memory per
subscription is bounded. Each key may hold at most `per_key` subscriptions across all its sockets
(TOO_MANY_SUBSCRIPTIONS).
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pymongo.errors import OperationFailure

from server.domain.access import Principal
from server.domain.errors import Overloaded, Unavailable
from server.domain.profile import Profile
from server.services.background import gave_up
from server.storage.profiles import Profiles, StreamPosition

DEFAULT_SUBSCRIPTIONS_PER_KEY = 100
RESTART_DELAY_SECONDS = 1.0
OPEN_SECONDS = 10.0
# The database cannot resume from the token: ChangeStreamFatalError, ChangeStreamHistoryLost.
_CANNOT_RESUME = frozenset({280, 286})


@dataclass(eq=False)
class _Subscriber:
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    latest: Profile | None = None

    def offer(self, profile: Profile) -> None:
        self.latest = profile
        self.changed.set()

    async def changes(self) -> AsyncIterator[Profile]:
        while True:
            await self.changed.wait()
            self.changed.clear()
            if self.latest is not None:
                yield self.latest


class ProfileFeed:
    def __init__(
        self,
        profiles: Profiles,
        *,
        per_key: int,
        restart_delay: float = RESTART_DELAY_SECONDS,
    ) -> None:
        self._profiles = profiles
        self._per_key = per_key
        self._restart_delay = restart_delay
        self._listeners: dict[tuple[str, str], set[_Subscriber]] = {}
        self._held: Counter[str] = Counter()
        self._stream: asyncio.Task[None] | None = None
        self._position = StreamPosition()
        self._watching = asyncio.Event()

    @contextlib.asynccontextmanager
    async def subscribe(self, principal: Principal, profile_id: str) -> AsyncIterator[AsyncIterator[Profile]]:
        """The profile's states from now on, for as long as the block runs."""
        if self._held[principal.key_id] >= self._per_key:
            raise Overloaded(
                f"A key may hold at most {self._per_key} subscriptions; close one first.",
                field="profileId",
                code="TOO_MANY_SUBSCRIPTIONS",
            )
        key = (principal.workspace_id, profile_id)
        subscriber = _Subscriber()
        self._held[principal.key_id] += 1
        self._listeners.setdefault(key, set()).add(subscriber)
        if self._stream is None or self._stream.done():
            self._watching.clear()
            self._position = StreamPosition()  # a new stream starts now: no one waits for older changes
            self._stream = asyncio.create_task(self._run(), name="profile-feed")
        try:
            # Once the stream watches, no change after this point can be missed.
            try:
                async with asyncio.timeout(OPEN_SECONDS):
                    await self._watching.wait()
            except TimeoutError:
                raise Unavailable("The database is unavailable; retry later.") from None
            yield subscriber.changes()
        finally:
            self._listeners[key].discard(subscriber)
            if not self._listeners[key]:
                del self._listeners[key]
            self._held[principal.key_id] -= 1
            if self._held[principal.key_id] <= 0:
                del self._held[principal.key_id]
            if not self._listeners and self._stream is not None:
                self._stream.cancel()
                self._stream = None

    @property
    def subscriptions(self) -> int:
        return sum(len(subscribers) for subscribers in self._listeners.values())

    async def _run(self) -> None:
        while self._listeners:
            try:
                async for workspace_id, profile in self._profiles.change_feed(
                    self._watching.set, self._position
                ):
                    for subscriber in self._listeners.get((workspace_id, profile.id), ()):
                        subscriber.offer(profile)
            except Exception as error:  # the stream failed: its subscribers wait for the next one
                if isinstance(error, OperationFailure) and error.code in _CANNOT_RESUME:
                    self._position = StreamPosition()
                gave_up("profile_feed", error)
            self._watching.clear()
            await asyncio.sleep(self._restart_delay)
