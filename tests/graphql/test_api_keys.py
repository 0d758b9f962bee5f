from tests.conftest import Api

CREATE = "mutation($role: Role!, $name: String!) { createApiKey(role: $role, name: $name) { id role name secret } }"
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) }"


async def test_created_key_secret_is_shown_once_and_works(api: Api) -> None:
    body = await api.gql(CREATE, {"role": "ANALYST", "name": "looker"})
    created = body["data"]["createApiKey"]
    assert created["role"] == "ANALYST"
    assert created["secret"].startswith("gr_")
    listed = await api.gql("{ apiKeys { id name role } }")
    assert {"id": created["id"], "name": "looker", "role": "ANALYST"} in listed["data"]["apiKeys"]
    assert "secret" not in str(listed)
    assert created["secret"] not in str(listed)
    works = await api.gql("{ taxonomy { name } }", key=created["secret"])
    assert works["data"]["taxonomy"]


async def test_keys_are_stored_only_as_digests(api: Api) -> None:
    body = await api.gql(CREATE, {"role": "INGEST", "name": "web"})
    secret = body["data"]["createApiKey"]["secret"]
    stored = [doc async for doc in api.db["api_keys"].find({})]
    assert stored
    assert all(secret not in str(doc) for doc in stored)


async def test_revoked_key_stops_working_at_once(api: Api) -> None:
    created = (await api.gql(CREATE, {"role": "ANALYST", "name": "old"}))["data"]["createApiKey"]
    assert (await api.gql(REVOKE, {"id": created["id"]}))["data"]["revokeApiKey"] is True
    response = await api.http.post(
        "/graphql",
        json={"query": "{ taxonomy { name } }"},
        headers={"Authorization": f"Bearer {created['secret']}"},
    )
    assert response.status_code == 401


async def test_revoking_an_unknown_key_is_not_found(api: Api) -> None:
    body = await api.gql(REVOKE, {"id": "key_doesnotexist"})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_non_admin_key_cannot_create_keys_and_the_denial_is_audited(api: Api) -> None:
    analyst = await api.key("ANALYST")
    body = await api.gql(CREATE, {"role": "ADMIN", "name": "escalate"}, key=analyst)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await api.db["api_keys"].count_documents({"name": "escalate"}) == 0
    assert await api.db["audit_log"].count_documents({"action": "access.denied"}) == 1
