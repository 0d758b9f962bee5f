"""customChannels: what an ADMIN sees of the workspace's custom channels."""

from server.domain.channel import FALLBACK_CHANNEL, MAX_CUSTOM_CHANNELS
from tests.conftest import Api
from tests.factories import track
from tests.graphql.test_track_events import TRACK

QUERY = "{ customChannels { names cap fallback fallbackEvents } }"


async def test_an_admin_sees_the_custom_channels_the_cap_and_the_fallback_count(api: Api) -> None:
    await api.app.state.services.channels.admit("default", ["tv", "email", "kiosk"])
    body = await api.gql(QUERY)
    assert body["data"]["customChannels"] == {
        "names": ["kiosk", "tv"],
        "cap": MAX_CUSTOM_CHANNELS,
        "fallback": FALLBACK_CHANNEL,
        "fallbackEvents": 0,
    }


async def test_a_channel_sent_in_an_event_is_counted_as_the_workspaces_custom_channel(api: Api) -> None:
    await api.gql(TRACK, {"events": [track(context={"channel": "Podcast"})]})
    body = await api.gql(QUERY)
    assert body["data"]["customChannels"]["names"] == ["podcast"]
