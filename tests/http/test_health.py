import httpx

from server.app import create_metrics_app
from server.settings import Settings
from server.storage.embedded import free_port
from tests.conftest import Api, running


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


async def test_metrics_are_not_on_the_public_listener_in_production(production_api: Api) -> None:
    assert (await production_api.http.get("/metrics")).status_code == 404


async def test_metrics_move_to_their_own_listener_when_a_port_is_set(settings: Settings) -> None:
    async with running(settings.model_copy(update={"metrics_port": free_port()})) as api:
        assert (await api.http.get("/metrics")).status_code == 404
    transport = httpx.ASGITransport(app=create_metrics_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as private:
        response = await private.get("/metrics")
    assert response.status_code == 200
    assert "granular_http_requests_total" in response.text
