from tests.conftest import Api


async def test_healthz_answers_without_a_key(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_when_the_database_does(api: Api) -> None:
    response = await api.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_metrics_count_graphql_operations_by_root_field(api: Api) -> None:
    await api.gql("{ taxonomy { name } }")
    text = (await api.http.get("/metrics")).text
    assert 'granular_graphql_operations_total{operation="taxonomy",outcome="ok"}' in text
    assert 'granular_http_requests_total{method="POST",route="/graphql",status="200"}' in text
