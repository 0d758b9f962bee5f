"""Per-key rate limits counted per operation (root field), before any resolver runs."""

import math
import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

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


class RateLimit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        limiter: RateLimiter | None = getattr(context.context, "rate_limiter", None)
        document = context.graphql_document
        if limiter is not None and document is not None:
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    for selection in definition.selection_set.selections:
                        if isinstance(selection, FieldNode) and not selection.name.value.startswith("__"):
                            limiter.check(context.context.principal.key_id, selection.name.value)
        yield
