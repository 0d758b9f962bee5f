"""HTTP-level promises: CORS allow-list, body limits for chunked bodies."""

from collections.abc import AsyncIterator

from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, running


async def test_cors_answers_only_allowed_origins(settings: Settings) -> None:
    async with running(settings.model_copy(update={"cors_origins": ["https://shop.example"]})) as api:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = await api.http.options("/graphql", headers={"Origin": "https://shop.example", **preflight})
        other = await api.http.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        assert "access-control-allow-origin" not in other.headers
        assert "access-control-allow-credentials" not in allowed.headers


async def test_no_origin_is_allowed_by_default(api: Api) -> None:
    response = await api.http.options(
        "/graphql", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


async def test_a_chunked_body_over_the_limit_gets_413_before_parsing(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"batch": ['
        for _ in range(700):
            yield (
                b'{"event": "product_viewed", "anonymousId": "a", "properties": {"pad": "'
                + b"x" * 1000
                + b'"}},'
            )
        yield b"{}]}"

    response = await api.http.post(
        "/v1/batch",
        content=chunks(),
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await api.db["events"].count_documents({}) == 0


async def test_a_declared_length_over_the_limit_is_refused_unread(api: Api) -> None:
    response = await api.http.post(
        "/graphql",
        content=b"{}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Length": "999999999"},
    )
    assert response.status_code == 413
