"""The production app, as a security reviewer would probe it."""

from tests.conftest import ADMIN_KEY, Api

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_introspection_is_off_in_production(production_api: Api) -> None:
    body = await production_api.gql("{ __schema { types { name } } }")
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    body = await production_api.gql('{ __type(name: "Profile") { name } }')
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


async def test_typename_still_works_in_production(production_api: Api) -> None:
    assert await production_api.gql("{ __typename }") == {"data": {"__typename": "Query"}}


async def test_no_did_you_mean_hints_in_production(production_api: Api) -> None:
    for query in (
        "{ taxonomi { name } }",
        "{ taxonomy { nam } }",
        '{ profile(userid: "x") { id } }',
        'mutation { createApiKey(role: ADMN, name: "x") { id } }',
    ):
        body = await production_api.gql(query)
        assert "Did you mean" not in str(body), query
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_development_keeps_hints_and_introspection(api: Api) -> None:
    assert "Did you mean" in str(await api.gql("{ taxonomi { name } }"))
    assert "errors" not in await api.gql("{ __schema { queryType { name } } }")


async def test_no_graphiql_in_production(production_api: Api) -> None:
    response = await production_api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code in (401, 404, 405)
    assert "graphiql" not in response.text.lower()


async def test_graphiql_in_development(api: Api) -> None:
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_get_queries_are_off_in_production(production_api: Api) -> None:
    response = await production_api.http.get("/graphql", params={"query": "{ __typename }"}, headers=AUTH)
    assert response.status_code in (400, 404, 405)
    assert "Query" not in response.text


async def test_get_never_executes_a_mutation(api: Api) -> None:
    response = await api.http.get(
        "/graphql",
        params={"query": 'mutation { createApiKey(role: ADMIN, name: "via-get") { id } }'},
        headers=AUTH,
    )
    assert response.status_code in (400, 405)
    assert await api.db["api_keys"].count_documents({"name": "via-get"}) == 0


async def test_the_production_app_is_configured_as_promised(production_api: Api) -> None:
    route = next(r for r in production_api.app.routes if getattr(r, "path", "") == "/graphql")
    view = route.app if hasattr(route, "app") else route.endpoint
    snapshot = {
        "graphql_ide": view.graphql_ide,
        "allow_queries_via_get": view.allow_queries_via_get,
        "hide_suggestions": view.hide_suggestions,
        "extensions": sorted(
            type(factory()).__name__ if not isinstance(factory, type) else factory.__name__
            for factory in view.schema.extensions
        ),
    }
    assert snapshot == {
        "graphql_ide": None,
        "allow_queries_via_get": False,
        "hide_suggestions": True,
        "extensions": sorted(
            [
                "MaxTokensLimiter",
                "AddValidationRules",
                "ParserCache",
                "ValidationCache",
                "ErrorCodes",
                "OperationMetrics",
                "RateLimit",
                "DisableIntrospection",
            ]
        ),
    }


async def test_the_start_up_self_test_refuses_a_production_app_with_a_switch_left_on(
    production_api: Api,
) -> None:
    import pytest

    from server.app import SelfTestFailed, production_self_test

    route = next(r for r in production_api.app.routes if getattr(r, "path", "") == "/graphql")
    view = route.app if hasattr(route, "app") else route.endpoint
    await production_self_test(view)  # as configured: passes
    view.allow_queries_via_get = True
    try:
        with pytest.raises(SelfTestFailed, match="GET queries still on"):
            await production_self_test(view)
    finally:
        view.allow_queries_via_get = False
