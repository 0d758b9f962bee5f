"""create_app(settings): the composition root. Its lifespan owns the database client (and the
embedded database child, when used) and builds the services."""

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator, Callable, Iterator

import anyio.to_thread
from pymongo.errors import ConnectionFailure
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute

from server.domain.errors import Unavailable
from server.domain.ingest import scope_for
from server.domain.workspace import DEFAULT_WORKSPACE
from server.graphql.errors import coded
from server.graphql.schema import build_schema
from server.graphql.view import GranularGraphQL
from server.http import exports, segment
from server.http.admission import Admission
from server.http.cors import WorkspaceCors
from server.http.dashboard import Dashboard, home
from server.http.health import healthz, metrics, readyz
from server.http.limits import BodyLimit
from server.http.observability import RequestMetrics
from server.http.preferences import Preferences
from server.http.problems import database_unavailable
from server.http.unexpected import UnexpectedErrors
from server.services.background import supervise
from server.services.capacity import Capacity
from server.services.rate_limit import RateLimiter
from server.settings import Settings
from server.storage.client import connect, is_sharded
from server.storage.embedded import database_uri
from server.storage.indexes import ensure_indexes
from server.storage.keyfile import load_or_create
from server.wiring import Services

CLOSE_SECONDS = 2.0


class SelfTestFailed(RuntimeError):
    """Production mode asked for, but a switch is not where it must be: the server does not start."""


async def production_self_test(graphql: GranularGraphQL) -> None:
    """Introspection, GraphiQL, GET queries and name suggestions are off, proven by trying them."""
    introspection = await graphql.schema.execute("{ __schema { queryType { name } } }")
    misspelled = await graphql.schema.execute("{ taxonomi { name } }")
    hints = [coded(e, hide_suggestions=graphql.hide_suggestions).message for e in misspelled.errors or []]
    problems = [
        name
        for name, failed in (
            ("introspection", not introspection.errors),
            ("GraphiQL", graphql.graphql_ide is not None),
            ("GET queries", graphql.allow_queries_via_get),
            ("name suggestions", any("Did you mean" in hint for hint in hints)),
        )
        if failed
    ]
    if problems:
        raise SelfTestFailed("production self-test failed: " + ", ".join(problems) + " still on")


# Allocations between young-generation collections (CPython's default is 700). Measured on the read
# and ingest paths, where the cyclic collector took a quarter of the CPU.
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def tuned_collector() -> Iterator[None]:
    """What start-up built (schema, modules, services) is frozen out of the cyclic collector, which
    otherwise walks it again and again, and the young generation is collected less often."""
    previous = gc.get_threshold()
    # No full collection first: start-up's few dead cycles stay frozen until shutdown, which is
    # cheaper than a full pass over a large heap (a test session starts many apps).
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, previous[1], previous[2])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def create_app(settings: Settings, *, announce: Callable[[str], None] = print) -> Starlette:
    """The ASGI app; `announce` receives the operator-facing lines printed at start-up."""
    production = settings.production
    # One limiter for GraphQL and Segment's routes: a key's budget is per operation, wherever it arrives.
    rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    graphql = GranularGraphQL(
        build_schema(production=production),
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=not production,
        rate_limiter=rate_limiter,
        hide_suggestions=production,
    )

    capacity = Capacity(settings.max_in_flight)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if production:
            await production_self_test(graphql)
        configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
        database = database_uri(configured, settings.data_dir)
        uri = await anyio.to_thread.run_sync(database.__enter__)
        client = connect(uri, timeout_ms=settings.db_timeout_ms, pool_size=settings.db_pool_size)
        try:
            db = client[settings.database]
            await ensure_indexes(db)
            services = Services.build(
                db,
                load_or_create(settings.key_path),
                capacity=capacity,
                subscriptions_per_key=settings.subscriptions_per_key,
                transaction_scope=scope_for(settings.transaction_scope, await is_sharded(db)),
            )
            await services.migrations.run_pending()
            if settings.bootstrap_admin_key is not None:
                await services.keys.ensure_bootstrap(
                    workspace_id=DEFAULT_WORKSPACE,
                    secret=settings.bootstrap_admin_key.get_secret_value(),
                )
            elif (secret := await services.keys.first_admin_key(DEFAULT_WORKSPACE)) is not None:
                announce(
                    f"First start: an ADMIN key for workspace '{DEFAULT_WORKSPACE}' (shown once): {secret}"
                )
            app.state.services = services
            background = [
                asyncio.create_task(supervise(name, functools.partial(run_forever, interval)))
                for name, interval, run_forever in (
                    ("triggers", settings.trigger_interval_seconds, services.triggers.run_forever),
                    ("retention", settings.retention_sweep_seconds, services.retention.run_forever),
                    ("audiences", settings.audience_pass_seconds, services.audiences.run_forever),
                )
                if interval > 0
            ]
            try:
                with tuned_collector():
                    yield
            finally:
                for task in background:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            # Bounded: SIGTERM must end the process even if the driver is stuck on a connection.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_SECONDS):
                    await client.close()
            await anyio.to_thread.run_sync(database.__exit__, None, None, None)

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/v1/batch", segment.batch, methods=["POST"]),
        Route("/v1/b", segment.batch, methods=["POST"]),
        Route("/v1/m", segment.telemetry, methods=["POST"]),
        Route("/v1/exports/{token:str}", exports.download, methods=["GET", "HEAD"]),
        Route("/", home, methods=["GET"]),
        Mount("/dashboard", app=Dashboard(), name="dashboard"),
        Mount("/preferences", app=Preferences(settings.cors_origins), name="preferences"),
        Route("/v1/{kind:str}", segment.single, methods=["POST"]),
    ]
    if settings.public_metrics:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    known_paths = frozenset(route.path for route in routes if isinstance(route, Route))
    middleware = [
        Middleware(UnexpectedErrors),
        Middleware(RequestMetrics, routes=known_paths),
        Middleware(
            WorkspaceCors,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            # X-Retry-Count: Segment's browser library numbers its retries in it.
            allow_headers=["Authorization", "Content-Type", "Content-Encoding", "X-Retry-Count"],
            allow_credentials=False,
        ),
        Middleware(Admission, capacity=capacity),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ConnectionFailure: database_unavailable, Unavailable: database_unavailable},
    )
    app.state.capacity = capacity
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.rate_limiter = rate_limiter
    app.state.cors_origins = frozenset(settings.cors_origins)
    return app


def create_metrics_app() -> Starlette:
    """/metrics alone, for the private listener on GRANULAR_METRICS_PORT."""
    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
