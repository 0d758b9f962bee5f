"""The `granular` command: what an operator runs (serve, keys, demo, fit, export-schema)."""

import argparse
import asyncio
import errno
import json
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from server.domain.access import KEY_ROLES, Role
from server.domain.workspace import DEFAULT_WORKSPACE
from server.graphql.schema import sdl
from server.settings import Settings
from server.storage.embedded import EmbeddedDatabaseError, database_uri

if TYPE_CHECKING:
    from datetime import datetime

    import uvicorn
    from starlette.types import ASGIApp

    from server.demo.shop import Plan
    from server.domain.ltv import BgNbdFit, FitCheck, GammaGammaFit


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "data_dir")
        if getattr(args, name, None) is not None
    }
    return Settings(**overrides)


class _Bar:
    """One self-overwriting progress line on stderr (stdout stays for the result): share done, rate
    (`unit`s per second, `done` counted in units of `scale`) and time left."""

    def __init__(self, unit: str, scale: float = 1.0) -> None:
        self._started = time.monotonic()
        self._unit, self._scale = unit, scale

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        share = done / total if total else 1.0
        rate = done / elapsed / self._scale
        left = elapsed * (1 - share) / share if share else 0.0
        bar, eta = "#" * int(30 * share), f"{int(left) // 60}:{int(left) % 60:02d}"
        print(
            f"\r  [{bar:<30}] {share:4.0%}  {rate:,.1f} {self._unit}/s  ETA {eta}",
            end="",
            file=sys.stderr,
            flush=True,
        )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # uvicorn shuts down gracefully, then re-raises the signal it caught; ending here (instead of
    # the default handler killing the process) lets the embedded database stop cleanly.
    raise SystemExit(0)


# SIGTERM: requests in flight get this long to finish, then they are cancelled and the server
# stops (the lifespan's shutdown and the embedded database's stop follow): within 10 s in all.
GRACEFUL_SHUTDOWN_SECONDS = 3


def _metrics_listener(settings: Settings) -> Callable[[], None]:
    """/metrics on its own listener (GRANULAR_METRICS_PORT), in a thread; returns its stop."""
    import uvicorn

    from server.app import create_metrics_app

    assert settings.metrics_port is not None
    server = uvicorn.Server(
        uvicorn.Config(
            create_metrics_app(),
            host=settings.metrics_host,
            port=settings.metrics_port,
            log_level="warning",
            access_log=False,
        )
    )
    # Not the main thread: uvicorn leaves the signal handlers to the API's server.
    thread = threading.Thread(target=server.run, name="metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(GRACEFUL_SHUTDOWN_SECONDS)

    return stop


def server_config(app: "ASGIApp", settings: Settings) -> "uvicorn.Config":
    """How the API is served: uvloop and httptools, with a request deadline and a connection cap."""
    import uvicorn

    from server.http.connections import guarded_http

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=guarded_http(
            read_timeout=settings.read_timeout_seconds, max_connections=settings.max_connections
        ),
        log_level="warning",
        access_log=False,  # access logs would carry ids; metrics cover traffic
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


# Descriptors beyond connections and the database pool: files, the metrics listener, the database's
# monitors, the embedded database's pipes.
FD_HEADROOM = 256


def _reserve_file_descriptors(needed: int) -> None:
    """Raise the soft limit on open files to what the connection cap needs (as far as the hard limit
    allows), so the cap, not the limit, is what refuses connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        if raised < needed:
            print(
                f"granular: open files are limited to {hard}; GRANULAR_MAX_CONNECTIONS needs {needed}",
                file=sys.stderr,
            )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.http.connections import PROBE_SLOTS

    settings = _settings(args)
    if not _port_free(settings.host, settings.port):
        print(f"granular: port {settings.port} on {settings.host} is already in use", file=sys.stderr)
        return 1
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The embedded child is started here, before uvicorn, so a locked data dir is one clear line.
    with database_uri(configured, settings.data_dir) as uri:
        settings = settings.model_copy(update={"mongodb_uri": SecretStr(uri)})
        base = f"http://{settings.host}:{settings.port}"
        print(f"Granular on {base}/graphql" + ("" if settings.production else f" (GraphiQL: {base}/graphql)"))
        stop_metrics = _metrics_listener(settings) if settings.metrics_port is not None else None
        connections = settings.max_connections + PROBE_SLOTS
        _reserve_file_descriptors(connections + settings.db_pool_size + FD_HEADROOM)
        server = uvicorn.Server(server_config(create_app(settings), settings))
        try:
            server.run()
        finally:
            if stop_metrics is not None:
                stop_metrics()
    return 0 if server.started else 1


async def _create_key(settings: Settings, uri: str, workspace: str, role: Role, name: str) -> str:
    from server.storage.client import connect
    from server.storage.indexes import ensure_indexes
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri)
    try:
        db = client[settings.database]
        await ensure_indexes(db)
        services = Services.build(db, load_or_create(settings.key_path))
        _, secret = await services.keys.create(workspace_id=workspace, role=role, name=name, actor="cli")
        return secret
    finally:
        await client.close()


def keys_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        secret = asyncio.run(_create_key(settings, uri, args.workspace, Role(args.role), args.name))
    print(secret)
    return 0


async def _rotate(settings: Settings, uri: str) -> int:
    from privacy.crypto import rotate
    from server.services.keys import rewrap_all
    from server.storage.client import connect
    from server.storage.data_keys import DataKeys
    from server.storage.keyfile import load_or_create, write

    # The new keyring (which still holds the old KEKs) is written first, so a crash half-way
    # leaves every data key readable: re-running finishes the job.
    keyring = rotate(load_or_create(settings.key_path))
    write(settings.key_path, keyring)
    client = connect(uri)
    try:
        return await rewrap_all(DataKeys(client[settings.database]), keyring)
    finally:
        await client.close()


def keys_rotate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        moved = asyncio.run(_rotate(settings, uri))
    print(f"re-wrapped {moved} data keys under the new key-encryption key")
    return 0


async def _fit(settings: Settings, uri: str, workspace: str) -> str:
    from server.domain.access import Principal
    from server.storage.client import connect
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri)
    try:
        services = Services.build(client[settings.database], load_or_create(settings.key_path))
        models = await services.models.fit(Principal(workspace, Role.ADMIN, "cli"), None)
        report = models.ltv.models
    finally:
        await client.close()
    lines = [f"{report.customers} customers, {models.ltv.duration_ms:.0f} ms"]
    lines.append(_fit_line("BG/NBD", report.bgnbd, report.bgnbd_error, report.bgnbd_checks))
    lines.append(
        _fit_line("Gamma-Gamma", report.gamma_gamma, report.gamma_gamma_error, report.gamma_gamma_checks)
    )
    lines.append(
        f"Conversion model: AUC {models.propensity.auc} on {models.propensity.journeys} journeys"
        if models.propensity
        else f"Conversion model not fitted: {models.propensity_error}"
    )
    return "\n".join(lines)


def _fit_line(
    model: str, fit: "BgNbdFit | GammaGammaFit | None", error: str | None, checks: "Sequence[FitCheck]"
) -> str:
    from dataclasses import fields

    passed = ", ".join(f"{c.check.value} {'ok' if c.passed else 'FAILED'} ({c.detail})" for c in checks)
    if fit is None:
        return f"{model} not accepted: {error}\n  checks: {passed}"
    params = ", ".join(f"{f.name} {getattr(fit, f.name):.4g}" for f in fields(fit) if f.name != "checks")
    return f"{model}: {params}\n  checks: {passed}"


def fit(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        print(asyncio.run(_fit(settings, uri, args.workspace)))
    return 0


async def _demo(settings: Settings, uri: str, plan: "Plan") -> str:
    from datetime import UTC, datetime

    from server.demo.shop import messages
    from server.domain.access import Principal
    from server.storage.client import connect
    from server.storage.indexes import ensure_indexes
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri, timeout_ms=60_000)
    try:
        db = client[settings.database]
        await ensure_indexes(db)
        services = Services.build(db, load_or_create(settings.key_path))
        await services.migrations.run_pending()
        principal = Principal(DEFAULT_WORKSPACE, Role.ADMIN, "demo")
        shop = messages(plan, datetime.now(UTC))
        totals = {"accepted": 0, "duplicates": 0, "droppedNoConsent": 0, "rejected": 0}
        progress = _Bar("messages")
        for start in range(0, len(shop), 500):
            result = await services.ingest.ingest(principal, shop[start : start + 500])
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["droppedNoConsent"] += result.dropped_no_consent
            totals["rejected"] += len(result.rejected)
            progress(min(start + 500, len(shop)), len(shop))
        print(file=sys.stderr)
        _, secret = await services.keys.create(
            workspace_id=DEFAULT_WORKSPACE, role=Role.ADMIN, name="demo", actor="demo"
        )
        fit = (await services.models.fit(principal, None)).ltv.models
    finally:
        await client.close()
    return "\n".join(
        [
            f"Demo shop: {plan.customers:,} customers over {plan.days} days (seed {plan.seed}).",
            "  " + ", ".join(f"{k} {v:,}" for k, v in totals.items()),
            f"  LTV models fitted on {fit.customers:,} customers"
            + ("" if fit.bgnbd and fit.gamma_gamma else f" ({fit.bgnbd_error or fit.gamma_gamma_error})"),
            f"ADMIN key to look at it with (shown once): {secret}",
        ]
    )


def demo(args: argparse.Namespace) -> int:
    from server.demo.shop import Plan

    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        print(asyncio.run(_demo(settings, uri, Plan(args.customers, args.days, args.seed))))
    return 0


async def _import(settings: Settings, uri: str, workspace: str, paths: list[Path], report: Path) -> str:
    from server.domain.access import Principal
    from server.services.history_import import HistoryImport
    from server.storage.client import connect
    from server.storage.indexes import ensure_indexes
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri, timeout_ms=60_000)
    try:
        db = client[settings.database]
        await ensure_indexes(db)
        services = Services.build(db, load_or_create(settings.key_path))
        await services.migrations.run_pending()
        done = await HistoryImport(services.ingest).run(
            Principal(workspace, Role.ADMIN, "import"),
            paths,
            total_bytes=sum(p.stat().st_size for p in paths),
            progress=_Bar("MB", 1e6),
        )
        print(file=sys.stderr)
    finally:
        await client.close()
    with report.open("w") as out:
        for problem in done.problems:
            out.write(json.dumps(problem) + "\n")
    return (
        f"{done.lines:,} lines: accepted {done.accepted:,}, already stored {done.duplicates:,}, "
        f"suppressed {done.suppressed:,}, without consent {done.dropped_no_consent:,}, "
        f"past retention {done.expired:,}, rejected {done.rejected:,}"
        + (f" (listed in {report})" if done.problems else "")
    )


def import_history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        print(asyncio.run(_import(settings, uri, args.workspace, args.files, args.report)))
    return 0


async def _backtest(settings: Settings, uri: str, workspace: str, end: "datetime", weeks: int) -> str:
    from server.domain.access import Principal
    from server.storage.client import connect
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri, timeout_ms=60_000)
    try:
        services = Services.build(client[settings.database], load_or_create(settings.key_path))
        result = await services.ltv.backtest(Principal(workspace, Role.ADMIN, "cli"), end, weeks)
    finally:
        await client.close()
    models = result.models
    lines = [
        f"Calibration: purchases up to {end:%Y-%m-%d}, {models.customers:,} customers; "
        f"holdout: the {weeks} weeks after it.",
        _fit_line("BG/NBD", models.bgnbd, models.bgnbd_error, models.bgnbd_checks),
    ]
    if result.rows:
        lines += ["", "| decile of prediction | customers | predicted purchases | actual purchases |"]
        lines.append("|---|---:|---:|---:|")
        lines += [f"| {r.group} | {r.customers:,} | {r.predicted:,.1f} | {r.actual:,} |" for r in result.rows]
    return "\n".join(lines)


def backtest(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, time

    from server.domain.errors import GranularError

    end = datetime.combine(args.calibration_end, time.max, UTC)
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        try:
            print(asyncio.run(_backtest(settings, uri, args.workspace, end, args.holdout_weeks)))
        except GranularError as error:
            print(f"granular: {error}", file=sys.stderr)
            return 1
    return 0


async def _verify_ledger(settings: Settings, uri: str, workspace: str) -> tuple[bool, str]:
    from server.domain.access import Principal
    from server.storage.client import connect
    from server.storage.keyfile import load_or_create
    from server.wiring import Services

    client = connect(uri, timeout_ms=60_000)
    try:
        services = Services.build(client[settings.database], load_or_create(settings.key_path))
        found = await services.consent.verify_all(
            Principal(workspace, Role.COMPLIANCE, "cli"), _Bar("chains")
        )
    finally:
        await client.close()
        print(file=sys.stderr)
    summary = f"{found.chains:,} consent ledger chains, {found.entries:,} entries"
    if found.broken is None:
        return True, f"{summary}: every chain intact."
    b = found.broken
    return False, (
        f"{summary}: {found.broken_chains:,} broken. First: profile {b.profile_id}, "
        f"seq {b.seq} (entry {b.index} of its chain): {b.reason.value}."
    )


def verify_ledger(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        intact, report = asyncio.run(_verify_ledger(settings, uri, args.workspace))
    print(report)
    return 0 if intact else 2


def export_schema(args: argparse.Namespace) -> int:
    text = sdl()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


_DESCRIPTION = """Granular turns every small thing a shopper does into a fractional conversion value,
keeps a consent-governed profile per customer, and answers attribution, funnel, LTV and GDPR/CCPA
requests over GraphQL.

Without GRANULAR_MONGODB_URI, every command uses the embedded database in --data-dir (default
./.granular); then `keys`, `demo` and `fit` need the server stopped, as only one process may open it."""

_EPILOG = """First steps: `granular demo`, then `granular serve` and open http://127.0.0.1:8000/ with the
key it printed. Settings are GRANULAR_* environment variables (see the README)."""

_DATA_DIR = "where the embedded database and the key file live (default ./.granular)"


def _data_dir(command: argparse.ArgumentParser) -> None:
    command.add_argument("--data-dir", type=Path, help=_DATA_DIR)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="granular",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser(
        "serve",
        help="run the API and the dashboard",
        description="Run the GraphQL API, the Segment-compatible ingest endpoints and the dashboard. "
        "On the very first start it prints an ADMIN key (shown once).",
    )
    serve_cmd.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default 8000)")
    _data_dir(serve_cmd)
    serve_cmd.set_defaults(run=serve)

    keys = commands.add_parser(
        "keys", help="create API keys, or rotate the encryption key", description="Manage keys."
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser(
        "create",
        help="create an API key and print it (shown once)",
        description="Create an API key and print it. Only its hash is stored: keep it safe.",
    )
    create.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in KEY_ROLES],
        help="what the key may do: INGEST sends events, PERSONALIZATION reads scores, ANALYST reads "
        "reports, COMPLIANCE handles data-subject requests, ADMIN does everything",
    )
    create.add_argument("--name", required=True, help="a label to recognise the key by, e.g. 'storefront'")
    create.add_argument(
        "--workspace", default=DEFAULT_WORKSPACE, help="the workspace (shop); a new name starts a new one"
    )
    _data_dir(create)
    create.set_defaults(run=keys_create)

    rotate_cmd = key_commands.add_parser(
        "rotate",
        help="switch to a new encryption key (personal data stays readable)",
        description="Write a new key-encryption key to the key file and re-wrap every customer's data "
        "key under it. Personal data itself is not rewritten. Safe to run again after an interruption.",
    )
    _data_dir(rotate_cmd)
    rotate_cmd.set_defaults(run=keys_rotate)

    fit_cmd = commands.add_parser(
        "fit",
        help="fit the LTV and conversion models",
        description="Fit the lifetime-value (BG/NBD, Gamma-Gamma) and conversion-probability models on "
        "the workspace's data, as the fitModels mutation does.",
    )
    fit_cmd.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="the workspace (shop) to fit")
    _data_dir(fit_cmd)
    fit_cmd.set_defaults(run=fit)

    demo_cmd = commands.add_parser(
        "demo",
        help="fill the default workspace with a synthetic shop to explore",
        description="Send a reproducible synthetic shop (customers, channels, journeys, consent choices, "
        "orders and refunds) through the real ingest path, fit the models, and print an ADMIN key. "
        "Running it again adds nothing.",
    )
    demo_cmd.add_argument("--customers", type=int, default=1000, help="how many customers (default 1000)")
    demo_cmd.add_argument("--days", type=int, default=90, help="how many days of history (default 90)")
    demo_cmd.add_argument("--seed", type=int, default=7, help="another seed gives another shop (default 7)")
    _data_dir(demo_cmd)
    demo_cmd.set_defaults(run=demo)

    import_cmd = commands.add_parser(
        "import",
        help="import past events from files",
        description="Import history from files of Segment messages: one JSON message per line, or CSV "
        "whose header names Segment fields (properties.revenue for nested ones); gzip either way. "
        "Running it again skips what is already stored. Stop the server first, or set "
        "GRANULAR_MONGODB_URI. To import events older than 13 months, raise the EVENTS retention first.",
    )
    import_cmd.add_argument(
        "files", nargs="+", type=Path, help="files of messages (.ndjson, .jsonl, .csv, optionally .gz)"
    )
    import_cmd.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="the workspace to import into")
    import_cmd.add_argument(
        "--report", type=Path, default=Path("import-report.ndjson"), help="where lines not stored are listed"
    )
    import_cmd.add_argument("--data-dir", type=Path, help=_DATA_DIR)
    import_cmd.set_defaults(run=import_history)

    backtest_cmd = commands.add_parser(
        "backtest", help="fit the purchase model on a calibration period and compare it with the holdout"
    )
    backtest_cmd.add_argument(
        "--calibration-end", required=True, type=date.fromisoformat, help="last day (UTC) of calibration"
    )
    backtest_cmd.add_argument(
        "--holdout-weeks", required=True, type=int, help="weeks after the calibration end to compare with"
    )
    backtest_cmd.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="the workspace to fit")
    backtest_cmd.add_argument("--data-dir", type=Path, help=_DATA_DIR)
    backtest_cmd.set_defaults(run=backtest)

    verify_cmd = commands.add_parser(
        "verify-ledger", help="check every consent ledger hash chain (exit 2 when one is broken)"
    )
    verify_cmd.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="the workspace to check")
    verify_cmd.add_argument("--data-dir", type=Path, help=_DATA_DIR)
    verify_cmd.set_defaults(run=verify_ledger)

    schema = commands.add_parser(
        "export-schema",
        help="print the GraphQL schema",
        description="Print the GraphQL schema (SDL) that clients can generate code from.",
    )
    schema.add_argument("--output", help="write it to this file instead of printing it")
    schema.set_defaults(run=export_schema)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except EmbeddedDatabaseError as error:
        print(f"granular: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
