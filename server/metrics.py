"""Prometheus metrics: request counts and latencies by route and by GraphQL operation.

Labels are bounded (route templates and schema field names), and never carry request values.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "granular_http_requests_total",
    "HTTP requests by route and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "granular_http_request_seconds",
    "HTTP request latency by route.",
    ["route"],
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "granular_graphql_operations_total",
    "GraphQL operations by root field and outcome.",
    ["operation", "outcome"],
    registry=REGISTRY,
)
GRAPHQL_LATENCY = Histogram(
    "granular_graphql_operation_seconds",
    "GraphQL operation latency by root field.",
    ["operation"],
    registry=REGISTRY,
)
EVENTS_INGESTED = Counter(
    "granular_events_total",
    "Events by ingest outcome.",
    ["outcome"],
    registry=REGISTRY,
)
