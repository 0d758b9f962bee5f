from server.metrics import REGISTRY
from tests.conftest import ADMIN_KEY, Api


def _cached() -> float:
    return REGISTRY.get_sample_value("granular_cache_entries", {"cache": "api_keys"}) or 0.0


async def test_unknown_keys_are_not_remembered(api: Api) -> None:
    keys = api.app.state.services.keys
    assert await keys.authenticate(ADMIN_KEY) is not None
    known = _cached()
    for n in range(300):
        assert await keys.authenticate(f"gr_guess_{n}") is None
    assert _cached() == known
