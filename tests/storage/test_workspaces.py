from server.metrics import REGISTRY
from server.storage.workspaces import Workspaces
from tests.conftest import Api


async def test_the_settings_cache_keeps_at_most_its_size(api: Api) -> None:
    workspaces = Workspaces(api.db, cache_size=50)
    for n in range(120):
        await workspaces.get(f"ws-{n}")
    assert REGISTRY.get_sample_value("granular_cache_entries", {"cache": "workspace_settings"}) == 50


async def test_a_forgotten_workspace_is_read_again_with_its_settings(api: Api) -> None:
    workspaces = Workspaces(api.db, cache_size=2)
    settings = await workspaces.get("default")
    for n in range(5):
        await workspaces.get(f"ws-{n}")
    assert await workspaces.get("default") == settings
