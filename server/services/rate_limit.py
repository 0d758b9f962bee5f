"""Per-key rate limits counted per operation: a GraphQL root field, or a Segment route."""

import math
import time

from server.domain.errors import RateLimited
from server.domain.rate import Bucket, take

_MAX_KEYS = 100_000  # bounds memory: the table is cleared when it grows past this


class RateLimiter:
    """Buckets of one process. Several API instances each allow the rate (documented)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 6.0)
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def check(self, key_id: str, operation: str) -> None:
        if len(self._buckets) > _MAX_KEYS:
            self._buckets.clear()
        bucket, wait = take(
            self._buckets.get((key_id, operation)),
            time.monotonic(),
            rate_per_second=self.rate,
            burst=self.burst,
        )
        self._buckets[(key_id, operation)] = bucket
        if wait > 0:
            raise RateLimited("Too many requests for this key; retry later.", retry_after=math.ceil(wait))
