"""Per-key rate limits counted per operation (root field), before any resolver runs."""

from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from server.services.rate_limit import RateLimiter


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
