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
INGEST_UNITS = Counter(
    "granular_ingest_units_total",
    "Ingest units of work committed (each one transaction, possibly several callers' batches).",
    registry=REGISTRY,
)
INGEST_ATTEMPTS = Counter(
    "granular_ingest_unit_attempts_total",
    "Transaction attempts of ingest units (above the unit count: write conflicts retried).",
    registry=REGISTRY,
)
INGEST_BATCHES = Counter(
    "granular_ingest_batches_total",
    "Callers' batches written by ingest units.",
    registry=REGISTRY,
)
DB_COMMANDS = Counter(
    "granular_db_commands_total",
    "Database commands sent, by command name.",
    ["command"],
    registry=REGISTRY,
)
SKIPPED_PURCHASES = Counter(
    "granular_ltv_skipped_purchases_total",
    "Stored purchases whose revenue is not a finite number (stored before ingest refused them): not in LTV.",
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
