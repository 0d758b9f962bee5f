"""The per-workspace set of custom channels, on the real database."""

import asyncio

from server.domain.access import Principal, Role
from server.domain.channel import FALLBACK_CHANNEL
from server.services.channels import ChannelService
from server.storage.custom_channels import CustomChannels
from tests.conftest import Api

ADMIN = Principal(workspace_id="default", role=Role.ADMIN, key_id="test")


def _service(api: Api, cap: int) -> ChannelService:
    return ChannelService(CustomChannels(api.db), cap=cap)


async def test_built_in_channels_are_stored_as_they_are_and_record_nothing(api: Api) -> None:
    names = await api.app.state.services.channels.admit("default", ["email", "direct", "email"])
    assert names == {"email": "email", "direct": "direct"}
    assert await api.db["custom_channels"].count_documents({}) == 0


async def test_new_custom_channels_are_kept_and_reported(api: Api) -> None:
    channels = api.app.state.services.channels
    names = await channels.admit("default", ["podcast", "email", "kiosk", "podcast"])
    assert names == {"podcast": "podcast", "email": "email", "kiosk": "kiosk"}
    report = await channels.report(ADMIN)
    assert (report.names, report.fallback_events) == (("kiosk", "podcast"), 0)


async def test_custom_channels_past_the_cap_go_to_the_fallback_and_are_counted(api: Api) -> None:
    channels = _service(api, cap=2)
    await channels.admit("default", ["tv"])
    names = await channels.admit("default", ["radio", "kiosk", "kiosk", "tv"])
    assert names == {"radio": "radio", "kiosk": FALLBACK_CHANNEL, "tv": "tv"}
    report = await channels.report(ADMIN)
    assert (report.names, report.fallback_events) == (("radio", "tv"), 2)


async def test_workspaces_count_their_custom_channels_apart(api: Api) -> None:
    channels = _service(api, cap=1)
    await channels.admit("default", ["tv"])
    assert await channels.admit("other", ["radio"]) == {"radio": "radio"}


async def test_concurrent_batches_never_keep_more_than_the_cap(api: Api) -> None:
    channels = _service(api, cap=3)
    results = await asyncio.gather(*(channels.admit("default", [f"channel-{i}"]) for i in range(8)))
    kept = sorted(name for result in results for name in result.values() if name != FALLBACK_CHANNEL)
    report = await channels.report(ADMIN)
    assert len(kept) == 3
    assert (list(report.names), report.fallback_events) == (kept, 5)


async def test_an_aborted_transaction_records_no_channel(api: Api) -> None:
    channels = api.app.state.services.channels
    async with api.db.client.start_session() as session:
        await session.start_transaction()
        await channels.admit("default", ["podcast"], session=session)
        await session.abort_transaction()
    assert (await channels.report(ADMIN)).names == ()
