"""The database failing under ingest: 503 with Retry-After, recovery without a restart, and a
client that retries its batch ends with every event stored exactly once."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, running
from tests.factories import track
from tests.graphql.test_track_events import TRACK

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def impatient_api(settings: Settings) -> AsyncIterator[Api]:
    async with running(settings.model_copy(update={"db_timeout_ms": 1500})) as api:
        yield api


async def _fail_everything(api: Api, mode: Any) -> None:
    await api.db.client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": mode,
            "data": {
                "failCommands": ["insert", "find", "update"],
                "closeConnection": True,
                "appName": "granular",
            },
        }
    )


async def test_ingest_answers_503_while_the_database_is_down_and_a_retry_stores_each_event_once(
    impatient_api: Api,
) -> None:
    api = impatient_api
    batch = {"batch": [track("product_viewed"), track("product_added"), track("checkout_started")]}
    await _fail_everything(api, "alwaysOn")
    try:
        down = await api.http.post("/v1/batch", json=batch, headers=AUTH)
    finally:
        await _fail_everything(api, "off")
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
    assert down.json()["errors"][0]["extensions"]["code"] == "DB_UNAVAILABLE"

    for _ in range(2):  # the client retries, and once more for good measure
        again = await api.http.post("/v1/batch", json=batch, headers=AUTH)
        assert again.status_code == 200
    assert await api.db["events"].count_documents({}) == 3
    assert again.json()["duplicates"] == 3


async def test_graphql_ingest_answers_503_while_the_database_is_down(impatient_api: Api) -> None:
    api = impatient_api
    query = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }"
    await _fail_everything(api, "alwaysOn")
    try:
        down = await api.http.post(
            "/graphql", json={"query": query, "variables": {"e": [track()]}}, headers=AUTH
        )
    finally:
        await _fail_everything(api, "off")
    assert (down.status_code, down.headers.get("Retry-After")) == (503, "5")
    assert down.json()["errors"][0]["extensions"]["code"] == "DB_UNAVAILABLE"
    assert (await api.gql(query, {"e": [track()]}))["data"]["trackEvents"]["accepted"] == 1


async def test_a_transient_failure_is_retried_by_the_server_itself(api: Api) -> None:
    await _fail_everything(api, {"times": 1})
    response = await api.http.post("/v1/batch", json={"batch": [track()]}, headers=AUTH)
    assert response.status_code == 200
    assert await api.db["events"].count_documents({}) == 1


async def test_fifty_concurrent_copies_of_a_batch_store_it_once(api: Api) -> None:
    import asyncio

    batch = {
        "batch": [track("product_viewed", anonymous_id="same"), track("product_added", anonymous_id="same")]
    }
    responses = await asyncio.gather(
        *(api.http.post("/v1/batch", json=batch, headers=AUTH) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["accepted"] for r in responses) == 2
    assert sum(r.json()["duplicates"] for r in responses) == 98
    assert await api.db["events"].count_documents({}) == 2


async def test_a_batch_retried_inside_its_transaction_is_counted_once(api: Api) -> None:
    # Write conflicts on the profile update, after the events were inserted, make the driver re-run
    # the whole transaction again and again: each run must start from nothing, or it collides with
    # the events of the run before.
    await api.db.client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"times": 4},
            "data": {
                "failCommands": ["update"],
                "errorCode": 112,
                "errorLabels": ["TransientTransactionError"],
                "appName": "granular",
            },
        }
    )
    response = await api.http.post("/v1/batch", json={"batch": [track(), track()]}, headers=AUTH)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["duplicates"]) == (2, 0)
    assert await api.db["events"].count_documents({}) == 2


async def test_a_query_over_its_time_budget_ends_with_timeout(api: Api) -> None:
    await api.gql(TRACK, {"events": [track(user_id="u1")]})
    await api.db.client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["find"], "errorCode": 50, "appName": "granular"},  # MaxTimeMSExpired
        }
    )
    try:
        body = await api.gql('{ profile(userId: "u1") { id } }')
    finally:
        await api.db.client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert body["errors"][0]["message"] == "The operation ran out of time."
