"""The database client's promises: every command the API sends carries a server-side time limit."""

from server.settings import Settings
from tests.conftest import CommandLog, running
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


async def test_every_command_of_the_api_carries_max_time_ms(settings: Settings, commands: CommandLog) -> None:
    async with running(settings) as api:
        await api.gql(TRACK, {"events": [track("checkout_started", user_id="u1")]})
        await api.gql(
            '{ profile(userId: "u1") { intentScore journey: scoreExplanation { intent { event } } } }'
        )
        await api.gql("{ attribution(model: MARKOV) { totalConversions } }")
        await api.gql('mutation { requestErasure(subject: {userId: "u1"}, regulation: GDPR) { status } }')
        # Taken before the test's own teardown drops the database.
        sent = [(name, command) for _, name, command in commands.seen if name not in UPKEEP]
    assert {"insert", "find", "aggregate", "delete"} <= {name for name, _ in sent}
    assert [name for name, command in sent if "maxTimeMS" not in command] == []
