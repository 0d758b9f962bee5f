import base64

from tests.conftest import Api


async def test_graphql_without_a_key_is_401_with_a_json_code(api: Api) -> None:
    response = await api.http.post("/graphql", json={"query": "{ taxonomy { name } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphql_with_an_unknown_key_is_401(api: Api) -> None:
    response = await api.http.post(
        "/graphql",
        json={"query": "{ taxonomy { name } }"},
        headers={"Authorization": "Bearer gr_not_a_key"},
    )
    assert response.status_code == 401


async def test_a_key_works_as_basic_user_name_with_empty_password(api: Api) -> None:
    token = base64.b64encode(b"gr_test_bootstrap_admin_key:").decode()
    response = await api.http.post(
        "/graphql",
        json={"query": "{ taxonomy { name } }"},
        headers={"Authorization": f"Basic {token}"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["taxonomy"]


async def test_a_key_in_the_query_string_is_not_accepted(api: Api) -> None:
    response = await api.http.post(
        "/graphql?key=gr_test_bootstrap_admin_key", json={"query": "{ taxonomy { name } }"}
    )
    assert response.status_code == 401
