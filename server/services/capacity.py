"""Admission control: how much work this process takes on at once.

Work beyond the limit is refused at once (`Overloaded`: 503 OVERLOADED with Retry-After) instead of
queueing until it times out: a queue in front of a saturated database only turns a burst into
minutes of timeouts for everyone. The limit is sized to the database connection pool, so admitted
work rarely waits for a connection.

    capacity = Capacity(limit=64)
    async with capacity.admit("graphql"):   # raises Overloaded when `limit` are already in
        ...

`shedding` stays true for a moment after a refusal, so readiness probes take the process out of a
load balancer's rotation while it sheds and put it back once it has room again.
"""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from server.domain.errors import Overloaded
from server.metrics import IN_FLIGHT, SHED

DEFAULT_IN_FLIGHT = 64
# How long after its last refusal a process still reports itself as shedding (not ready).
SHED_MEMORY_SECONDS = 2.0


class Capacity:
    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.limit = limit
        self._clock = clock
        self._in_flight = 0
        self._last_refusal = -SHED_MEMORY_SECONDS - 1.0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def shedding(self) -> bool:
        """True while work is being refused (and for SHED_MEMORY_SECONDS after the last refusal)."""
        return self._clock() - self._last_refusal < SHED_MEMORY_SECONDS

    @asynccontextmanager
    async def admit(self, kind: str) -> AsyncIterator[None]:
        """Hold one of the `limit` places while the block runs; Overloaded when none is free.
        `kind` labels the refusal metric (e.g. "graphql", "ingest")."""
        if self._in_flight >= self.limit:
            self._last_refusal = self._clock()
            SHED.labels(kind).inc()
            raise Overloaded("The server is at capacity; retry shortly.")
        self._in_flight += 1
        IN_FLIGHT.inc()
        try:
            yield
        finally:
            self._in_flight -= 1
            IN_FLIGHT.dec()
