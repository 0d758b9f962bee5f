"""The database client's promises: every command the API sends carries a server-side time limit."""

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import monitoring

from server.settings import Settings
from tests.conftest import running
from tests.factories import track
from tests.graphql.test_track_events import TRACK

# Not operations on data: connection and session upkeep, and getMore (bounded by its find's budget).
UPKEEP = {
    "hello",
    "ismaster",
    "isMaster",
    "endSessions",
    "killCursors",
    "getMore",
    "saslStart",
    "saslContinue",
}


class Commands(monitoring.CommandListener):
    """Every command started while recording (a pymongo listener cannot be unregistered)."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.seen.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = Commands()
monitoring.register(COMMANDS)


@pytest.fixture
def recording() -> Iterator[Commands]:
    COMMANDS.seen.clear()
    COMMANDS.recording = True
    try:
        yield COMMANDS
    finally:
        COMMANDS.recording = False


async def test_every_command_of_the_api_carries_max_time_ms(settings: Settings, recording: Commands) -> None:
    async with running(settings) as api:
        await api.gql(TRACK, {"events": [track("checkout_started", user_id="u1")]})
        await api.gql(
            '{ profile(userId: "u1") { intentScore journey: scoreExplanation { intent { event } } } }'
        )
        await api.gql("{ attribution(model: MARKOV) { totalConversions } }")
        await api.gql('mutation { requestErasure(subject: {userId: "u1"}, regulation: GDPR) { status } }')
    commands = [(name, command) for name, command in recording.seen if name not in UPKEEP]
    assert {"insert", "find", "aggregate", "delete"} <= {name for name, _ in commands}
    assert [name for name, command in commands if "maxTimeMS" not in command] == []
