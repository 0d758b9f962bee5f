"""Start-up index upkeep: declared indexes are built, retired ones dropped, and a second run changes nothing."""

from server.storage.indexes import ensure_indexes
from tests.conftest import Api


async def _names(api: Api, collection: str) -> set[str]:
    return {index["name"] async for index in await api.db[collection].list_indexes()}


async def test_an_index_an_earlier_version_built_is_dropped_at_start_up(api: Api) -> None:
    await api.db["audience_changes"].create_index("profile_id", name="by_profile")
    await ensure_indexes(api.db)
    assert "by_profile" not in await _names(api, "audience_changes")
    assert "membership_as_of" in await _names(api, "audience_changes")


async def test_running_the_index_upkeep_again_changes_nothing(api: Api) -> None:
    before = await _names(api, "audience_changes")
    await ensure_indexes(api.db)
    assert await _names(api, "audience_changes") == before
