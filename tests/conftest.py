"""Fixtures: one real SecantusDB child per test session, a fresh database per test, and the real
ASGI app reached over HTTP (httpx's ASGI transport) with its lifespan running."""

import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest
import uvicorn
from pymongo import AsyncMongoClient, MongoClient, monitoring

from server.app import create_app
from server.domain.access import Role
from server.settings import Settings
from server.storage.embedded import EmbeddedDatabase, free_port

ADMIN_KEY = "gr_test_bootstrap_admin_key"
TTL_SWEEP_SECONDS = 1

# What the fixtures send as personal data; none of it may rest in plaintext or reach a log.
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")
# Loopback is the test's own machine (webhook receivers), never a customer's address.
FULL_IPV4 = re.compile(r"\b(?!127\.)(?:\d{1,3}\.){3}(?:[1-9]\d{0,2})\b")
FIXTURE_SECRETS = ("+44 20 7946 0958", "+442079460958", "4111 1111 1111 1111", "4111111111111111")


def assert_no_pii(text: str, where: str) -> None:
    assert not EMAIL_PATTERN.search(text), f"an e-mail address in {where}"
    assert not FULL_IPV4.search(text), f"a full IP address in {where}"
    for secret in FIXTURE_SECRETS:
        assert secret not in text, f"fixture PII in {where}"


@pytest.fixture(autouse=True)
def no_pii_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test doubles as a leak check: nothing it logs may carry fixture PII."""
    caplog.set_level(logging.INFO)
    yield
    for record in caplog.records:
        assert_no_pii(record.getMessage() + (record.exc_text or ""), f"the log ({record.name})")


class CommandLog(monitoring.CommandListener):
    """Every command started while recording, as (database, command name, command). pymongo applies a
    global listener only to clients created after it is registered and never removes one: so it is
    registered once, here, and the `commands` fixture switches it on."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.seen.append((event.database_name, event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def sent_to(self, database: str) -> list[tuple[str, str]]:
        """(command name, collection) of each command sent to `database`."""
        return [
            (name, str(command.get("collection") or command.get(name)))
            for db, name, command in self.seen
            if db == database
        ]


COMMANDS = CommandLog()
monitoring.register(COMMANDS)


@pytest.fixture
def commands() -> Iterator[CommandLog]:
    COMMANDS.seen.clear()
    COMMANDS.recording = True
    try:
        yield COMMANDS
    finally:
        COMMANDS.recording = False


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("GRANULAR_TEST_MONGODB_URI")
    if configured:
        yield configured
        return
    home = tmp_path_factory.mktemp("secantus")
    # Asks for a TTL monitor pass every second instead of mongod's 60 s. SecantusDB 0.7.0b3's launcher
    # parses this key but does not hand it to the server (its monitor stays at 60 s), so expiry
    # tests still allow for a full minute.
    config = home / "secantusd.toml"
    config.write_text(f"[storage]\nttl_sweep_seconds = {TTL_SWEEP_SECONDS}\n")
    embedded = EmbeddedDatabase(home / "data", test_commands=True, config=config)
    embedded.start()
    try:
        yield embedded.uri
    finally:
        embedded.stop()


@pytest.fixture
def settings(mongodb_uri: str, tmp_path: Path) -> Settings:
    return Settings(
        mongodb_uri=mongodb_uri,
        database="t_" + uuid.uuid4().hex[:16],
        data_dir=tmp_path,
        bootstrap_admin_key=ADMIN_KEY,
        trigger_interval_seconds=0,  # tests run the evaluator themselves
        retention_sweep_seconds=0,  # and the retention sweep
    )


@dataclass
class Api:
    """The running app, reached over HTTP, plus the database behind it for checks."""

    http: httpx.AsyncClient
    db: Any
    app: Any

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = ADMIN_KEY
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def key(self, role: str, name: str = "test") -> str:
        body = await self.gql(
            "mutation($role: Role!, $name: String!) { createApiKey(role: $role, name: $name) { secret } }",
            {"role": role, "name": name},
        )
        secret: str = body["data"]["createApiKey"]["secret"]
        return secret

    async def customer_token(self, user_id: str = "customer-1", **arguments: Any) -> str:
        """A customer token for `user_id`, minted over the API with the ADMIN key."""
        body = await self.gql(
            "mutation($userId: String, $anonymousId: String, $ttl: Int, $scopes: [CustomerScope!]) {"
            " createCustomerToken(userId: $userId, anonymousId: $anonymousId, ttlMinutes: $ttl,"
            " scopes: $scopes) { token } }",
            {"userId": user_id, "ttl": 60, **arguments},
        )
        token: str = body["data"]["createCustomerToken"]["token"]
        return token

    async def key_in(self, workspace_id: str, role: str) -> str:
        """A key of another workspace (issued the way `granular keys create --workspace` does)."""
        _, secret = await self.app.state.services.keys.create(
            workspace_id=workspace_id, role=Role(role), name="test", actor="test"
        )
        return str(secret)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan, reached over HTTP through httpx's ASGI transport."""
    app = create_app(settings, announce=lambda line: None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http=http, db=app.state.services.db, app=app)
        db = app.state.services.db
        for name in await db.list_collection_names():
            assert_no_pii(str([doc async for doc in db[name].find({})]), f"the {name} collection")
        client: AsyncMongoClient[Any] = db.client
        with pymongo.timeout(0):  # no budget: dropping a large database is slow on the embedded one
            await client.drop_database(settings.database)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running(settings) as api:
        yield api


@pytest.fixture
async def production_api(settings: Settings) -> AsyncIterator[Api]:
    async with running(settings.model_copy(update={"env": "production"})) as api:
        yield api


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn on loopback, for clients that speak real HTTP or WebSockets."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, announce=lambda line: None), host="127.0.0.1", port=port, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def live_gql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GraphQL request to a served app with the ADMIN key, which must succeed: its `data`."""
    response = httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=120,
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture(scope="session")
def demo_shop(mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The default demo shop (1,000 customers, 90 days) built once per session by the real
    `granular demo` command, served by a real uvicorn: its base URL. Tests that share it only read it,
    or add what no other test counts on."""
    data_dir = tmp_path_factory.mktemp("demo")
    database = "demo_" + uuid.uuid4().hex[:12]
    environment = {**os.environ, "GRANULAR_MONGODB_URI": mongodb_uri, "GRANULAR_DATABASE": database}
    subprocess.run(
        [sys.executable, "-m", "server.cli", "demo", "--data-dir", str(data_dir)],
        env=environment,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    settings = Settings(
        mongodb_uri=mongodb_uri,
        database=database,
        data_dir=data_dir,
        bootstrap_admin_key=ADMIN_KEY,
        trigger_interval_seconds=0,
        retention_sweep_seconds=0,
    )
    try:
        with served(settings) as address:
            yield f"http://{address}"
    finally:
        # The session's embedded database is thrown away with its directory; dropping the demo there
        # would take minutes (SecantusDB deletes document by document). A real mongod drops it at once.
        if os.environ.get("GRANULAR_TEST_MONGODB_URI"):
            with MongoClient(mongodb_uri) as client:
                client.drop_database(database)
