"""The `granular` command: serve, keys, export-schema (and the commands later issues add)."""

import argparse
import asyncio
import errno
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from server.domain.access import KEY_ROLES, Role
from server.domain.workspace import DEFAULT_WORKSPACE
from server.graphql.schema import sdl
from server.settings import Settings
from server.storage.embedded import EmbeddedDatabaseError, database_uri

if TYPE_CHECKING:
    from server.domain.demo_shop import Plan


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


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

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
        try:
            uvicorn.run(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                loop="uvloop",
                http="httptools",
                log_level="warning",
                access_log=False,  # access logs would carry ids; metrics cover traffic
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        finally:
            if stop_metrics is not None:
                stop_metrics()
    return 0


async def _create_key(settings: Settings, uri: str, workspace: str, role: Role, name: str) -> str:
    from server.services import Services
    from server.storage.client import connect
    from server.storage.indexes import ensure_indexes
    from server.storage.keyfile import load_or_create

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
    from server.services.key_rotation import rewrap_all
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
    from server.services import Services
    from server.storage.client import connect
    from server.storage.keyfile import load_or_create

    client = connect(uri)
    try:
        services = Services.build(client[settings.database], load_or_create(settings.key_path))
        models = await services.models.fit(Principal(workspace, Role.ADMIN, "cli"), None)
        report = models.ltv
    finally:
        await client.close()
    lines = [f"{report.customers} customers, {report.duration_ms:.0f} ms"]
    lines.append(f"BG/NBD: {report.bgnbd}" if report.bgnbd else f"BG/NBD not fitted: {report.bgnbd_error}")
    lines.append(
        f"Gamma-Gamma: {report.gamma_gamma}"
        if report.gamma_gamma
        else f"Gamma-Gamma not fitted: {report.gamma_gamma_error}"
    )
    lines.append(
        f"Conversion model: AUC {models.propensity.auc} on {models.propensity.journeys} journeys"
        if models.propensity
        else f"Conversion model not fitted: {models.propensity_error}"
    )
    return "\n".join(lines)


def fit(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        print(asyncio.run(_fit(settings, uri, args.workspace)))
    return 0


async def _demo(settings: Settings, uri: str, plan: "Plan") -> str:
    from datetime import UTC, datetime

    from server.domain.access import Principal
    from server.domain.demo_shop import messages
    from server.services import Services
    from server.storage.client import connect
    from server.storage.indexes import ensure_indexes
    from server.storage.keyfile import load_or_create

    client = connect(uri, timeout_ms=60_000)
    try:
        db = client[settings.database]
        await ensure_indexes(db)
        services = Services.build(db, load_or_create(settings.key_path))
        principal = Principal(DEFAULT_WORKSPACE, Role.ADMIN, "demo")
        shop = messages(plan, datetime.now(UTC))
        totals = {"accepted": 0, "duplicates": 0, "droppedNoConsent": 0, "rejected": 0}
        for start in range(0, len(shop), 500):
            result = await services.ingest.ingest(principal, shop[start : start + 500])
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["droppedNoConsent"] += result.dropped_no_consent
            totals["rejected"] += len(result.rejected)
            done = min(start + 500, len(shop))
            bar = "#" * (30 * done // len(shop))
            print(f"\r  [{bar:<30}] {done:,}/{len(shop):,} messages", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        _, secret = await services.keys.create(
            workspace_id=DEFAULT_WORKSPACE, role=Role.ADMIN, name="demo", actor="demo"
        )
        fit = (await services.models.fit(principal, None)).ltv
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
    from server.domain.demo_shop import Plan

    settings = _settings(args)
    configured = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    with database_uri(configured, settings.data_dir) as uri:
        print(asyncio.run(_demo(settings, uri, Plan(args.customers, args.days, args.seed))))
    return 0


def export_schema(args: argparse.Namespace) -> int:
    text = sdl()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="granular", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser(
        "serve", help="run the API (embedded database unless GRANULAR_MONGODB_URI)"
    )
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir", type=Path)
    serve_cmd.set_defaults(run=serve)

    keys = commands.add_parser("keys", help="manage API keys (server stopped)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--role", required=True, choices=[role.value for role in KEY_ROLES])
    create.add_argument("--name", required=True)
    create.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="a new name starts a new workspace")
    create.add_argument("--data-dir", type=Path)
    create.set_defaults(run=keys_create)

    rotate_cmd = key_commands.add_parser("rotate", help="new key-encryption key; re-wrap every data key")
    rotate_cmd.add_argument("--data-dir", type=Path)
    rotate_cmd.set_defaults(run=keys_rotate)

    fit_cmd = commands.add_parser("fit", help="fit the LTV models (server stopped, or GRANULAR_MONGODB_URI)")
    fit_cmd.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    fit_cmd.add_argument("--data-dir", type=Path)
    fit_cmd.set_defaults(run=fit)

    demo_cmd = commands.add_parser(
        "demo", help="fill the default workspace with a synthetic shop (server stopped)"
    )
    demo_cmd.add_argument("--customers", type=int, default=1000)
    demo_cmd.add_argument("--days", type=int, default=90)
    demo_cmd.add_argument("--seed", type=int, default=7)
    demo_cmd.add_argument("--data-dir", type=Path)
    demo_cmd.set_defaults(run=demo)

    schema = commands.add_parser("export-schema", help="print the GraphQL SDL")
    schema.add_argument("--output", help="write the SDL to this file instead")
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
