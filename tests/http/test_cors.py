"""Per-workspace browser origins: each brand's pages may call with its own customers' tokens only."""

from typing import Any

import httpx

from tests.conftest import Api

SHOP = "https://shop.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
ME = {"query": "{ me { profileId } }"}


async def _allow(api: Api, origins: list[str], key: str | None = None) -> dict[str, Any]:
    return await api.gql(
        "mutation($o: [String!]) { updateWorkspaceSettings(input: {allowedOrigins: $o}) { allowedOrigins } }",
        {"o": origins},
        **({"key": key} if key else {}),
    )


async def _me_from(api: Api, token: str, origin: str) -> httpx.Response:
    return await api.http.post(
        "/graphql", json=ME, headers={"Authorization": f"Bearer {token}", "Origin": origin}
    )


async def test_a_workspaces_origin_passes_the_preflight(api: Api) -> None:
    await _allow(api, [SHOP])
    response = await api.http.options("/graphql", headers={"Origin": SHOP, **PREFLIGHT})
    assert response.headers["access-control-allow-origin"] == SHOP


async def test_an_origin_no_workspace_allows_fails_the_preflight(api: Api) -> None:
    await _allow(api, [SHOP])
    response = await api.http.options("/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers


async def test_a_customer_token_from_its_workspaces_origin_is_answered_with_cors_headers(api: Api) -> None:
    await _allow(api, [SHOP])
    response = await _me_from(api, await api.customer_token("alice"), SHOP)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP


async def test_a_customer_token_from_another_workspaces_origin_is_refused(api: Api) -> None:
    await _allow(api, ["https://other-brand.example"], key=await api.key_in("other", "ADMIN"))
    response = await _me_from(api, await api.customer_token("alice"), "https://other-brand.example")
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "ORIGIN_NOT_ALLOWED"


async def test_the_servers_own_pages_may_use_customer_tokens(api: Api) -> None:
    response = await _me_from(api, await api.customer_token("alice"), "http://testserver")
    assert response.status_code == 200


async def test_a_wildcard_origin_cannot_be_configured(api: Api) -> None:
    for origin in ("*", "https://shop.example/path", "shop.example"):
        body = await _allow(api, [origin])
        error = body["errors"][0]["extensions"]
        assert (error["code"], error["field"]) == ("INVALID_ORIGIN", "allowedOrigins")
