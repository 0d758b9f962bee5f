"""Services against the real embedded database, without the GraphQL or HTTP layers: the unit seam."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import pytest

from privacy.crypto import Keyring, new_keyring
from server.domain.access import Principal, Role
from server.storage.client import connect
from server.storage.embedded import EmbeddedDatabase
from server.storage.indexes import ensure_indexes
from server.wiring import Services
from tests.conftest import COMMANDS, CommandLog


@dataclass
class Stack:
    services: Services
    db: Any
    log: CommandLog  # the suite's one command listener (switch `recording` on around what is measured)
    keyring: Keyring

    def commands(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, command) of what was recorded on this stack's database (transactions end on `admin`)."""
        return [
            (name, body)
            for db, name, body in self.log.seen
            if db == self.db.name or name in ("commitTransaction", "abortTransaction")
        ]

    admin: Principal = field(
        default_factory=lambda: Principal(workspace_id="w1", role=Role.ADMIN, key_id="k-admin")
    )
    ingest: Principal = field(
        default_factory=lambda: Principal(workspace_id="w1", role=Role.INGEST, key_id="k-ingest")
    )

    def another_process(self) -> Services:
        """The services of a second API process on the same database (its own writer)."""
        return Services.build(self.db, self.keyring)


@asynccontextmanager
async def _stack(uri: str, log: CommandLog, *, drop: bool) -> AsyncIterator[Stack]:
    client = connect(uri)
    db = client["s_" + uuid.uuid4().hex[:16]]
    try:
        await ensure_indexes(db)
        keyring = new_keyring()
        services = Services.build(db, keyring)
        await services.migrations.run_pending()
        log.seen.clear()  # what an earlier test recorded is not this one's
        yield Stack(services=services, db=db, log=log, keyring=keyring)
    finally:
        if drop:
            with pymongo.timeout(0):  # no budget: the embedded database drops document by document
                await client.drop_database(db.name)
        await client.close()


@pytest.fixture
async def stack(mongodb_uri: str) -> AsyncIterator[Stack]:
    async with _stack(mongodb_uri, COMMANDS, drop=True) as built:
        yield built


@pytest.fixture
async def large_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """For tests that store tens of thousands of documents: a database of their own, thrown away with
    its directory (the embedded database would take minutes to drop them one by one)."""
    configured = os.environ.get("GRANULAR_TEST_MONGODB_URI")
    if configured:
        async with _stack(configured, COMMANDS, drop=True) as built:
            yield built
        return
    database = EmbeddedDatabase(tmp_path / "large")
    database.start()
    try:
        async with _stack(database.uri, COMMANDS, drop=False) as built:
            yield built
    finally:
        database.stop()
