import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from server.domain.errors import Unauthenticated
from server.metrics import REGISTRY
from tests.conftest import Api, CommandLog


def _forged_for_random_workspace() -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "granular",
        "aud": "ws-" + secrets.token_hex(8),
        "sub": "user:someone",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": secrets.token_hex(6),
        "scope": "READ",
    }
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256", headers={"kid": "0"})


async def test_forged_tokens_for_random_workspaces_read_nothing_and_grow_no_cache(
    api: Api,
    commands: CommandLog,
) -> None:
    tokens = api.app.state.services.customer_tokens
    for _ in range(10_000):
        with pytest.raises(Unauthenticated) as refused:
            await tokens.authenticate(_forged_for_random_workspace())
        assert refused.value.code == "TOKEN_INVALID"
    assert [name for _, name, command in commands.seen if command.get(name) == "workspaces"] == []
    cached = REGISTRY.get_sample_value("granular_cache_entries", {"cache": "token_generations"}) or 0
    assert cached <= 1
