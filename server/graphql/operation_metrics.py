"""Counts and times each GraphQL operation under its first root field's name."""

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from server.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        operation = "invalid"
        document = context.graphql_document
        if document is not None:
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    first = definition.selection_set.selections[0]
                    if isinstance(first, FieldNode):
                        operation = first.name.value
                    break
        # Field names reach the label only when validation passed, so the label set is bounded.
        result = context.result
        errors = getattr(result, "errors", None)
        if errors and getattr(result, "data", None) is None:
            operation = operation if context.pre_execution_errors is None else "invalid"
        outcome = "error" if errors else "ok"
        GRAPHQL_OPERATIONS.labels(operation, outcome).inc()
        GRAPHQL_LATENCY.labels(operation).observe(time.perf_counter() - started)
