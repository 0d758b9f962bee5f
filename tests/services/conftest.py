"""Services against the real embedded database, without the GraphQL or HTTP layers: the unit seam."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pymongo
import pytest
from pymongo import monitoring

from privacy.crypto import Keyring, new_keyring
from server.domain.access import Principal, Role
from server.services import Services
from server.storage.client import connect
from server.storage.indexes import ensure_indexes


class CommandLog(monitoring.CommandListener):
    """Every command the services sent, with its body, while `recording` is on."""

    def __init__(self) -> None:
        self.recording = False
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Stack:
    services: Services
    db: Any
    log: CommandLog
    keyring: Keyring
    admin: Principal = field(
        default_factory=lambda: Principal(workspace_id="w1", role=Role.ADMIN, key_id="k-admin")
    )
    ingest: Principal = field(
        default_factory=lambda: Principal(workspace_id="w1", role=Role.INGEST, key_id="k-ingest")
    )

    def another_process(self) -> Services:
        """The services of a second API process on the same database (its own writer)."""
        return Services.build(self.db, self.keyring)


@pytest.fixture
def command_log() -> CommandLog:
    return CommandLog()


@pytest.fixture
async def stack(mongodb_uri: str, command_log: CommandLog) -> AsyncIterator[Stack]:
    client = connect(mongodb_uri, listeners=[command_log])
    db = client["s_" + uuid.uuid4().hex[:16]]
    try:
        await ensure_indexes(db)
        keyring = new_keyring()
        services = Services.build(db, keyring)
        await services.migrations.run_pending()
        yield Stack(services=services, db=db, log=command_log, keyring=keyring)
    finally:
        with pymongo.timeout(120):  # dropping a database is slow on a loaded machine; never a failure
            await client.drop_database(db.name)
        await client.close()
