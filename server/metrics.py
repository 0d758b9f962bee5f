"""Prometheus metrics: request counts and latencies by route and by GraphQL operation.

Labels are bounded (route templates and schema field names), and never carry request values.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
IN_FLIGHT = Gauge(
    "granular_in_flight",
    "Requests holding an admission place (GraphQL over HTTP and /v1).",
    registry=REGISTRY,
)
SHED = Counter(
    "granular_shed_total",
    "Work refused with OVERLOADED because the process was at its admission limit, by kind.",
    ["kind"],
    registry=REGISTRY,
)
BACKGROUND_FAILURES = Counter(
    "granular_background_failures_total",
    "Items or passes a background task gave up on (it logs the class and goes on), by task and class.",
    ["task", "error"],
    registry=REGISTRY,
)
BACKGROUND_RESTARTS = Counter(
    "granular_background_restarts_total",
    "Background tasks restarted by the supervisor after they died, by task.",
    ["task"],
    registry=REGISTRY,
)
CACHE_ENTRIES = Gauge(
    "granular_cache_entries",
    "Entries held by a request-path cache (each is size-capped), by cache.",
    ["cache"],
    registry=REGISTRY,
)
