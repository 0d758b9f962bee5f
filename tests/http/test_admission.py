"""Overload sheds, never queues: beyond the admission limit a request gets 503 OVERLOADED at once."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, running

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}


@pytest.fixture
async def one_place(settings: Settings) -> AsyncIterator[Api]:
    async with running(settings.model_copy(update={"max_in_flight": 1})) as api:
        yield api


async def _hold_the_place(api: Api, release: asyncio.Event) -> asyncio.Task[object]:
    """A request that has been admitted and is still sending its body."""

    reading = asyncio.Event()  # the app reads the body only after admitting the request

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"query": "{ taxonomy { name } }"'
        reading.set()
        await release.wait()
        yield b"}"

    held = asyncio.create_task(api.http.post("/graphql", content=slow_body(), headers=AUTH))
    await reading.wait()
    assert api.app.state.capacity.in_flight == 1
    return held


async def test_a_request_beyond_the_limit_gets_503_overloaded_with_retry_after(one_place: Api) -> None:
    release = asyncio.Event()
    held = await _hold_the_place(one_place, release)
    refused = await one_place.http.post("/graphql", json={"query": "{ taxonomy { name } }"}, headers=AUTH)
    release.set()
    assert (await held).status_code == 200  # type: ignore[attr-defined]
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"


async def test_v1_routes_are_behind_the_same_limit(one_place: Api) -> None:
    release = asyncio.Event()
    held = await _hold_the_place(one_place, release)
    refused = await one_place.http.post("/v1/batch", json={"batch": []}, headers=AUTH)
    release.set()
    await held
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"


async def test_readyz_is_not_ready_while_shedding_and_healthz_still_answers(one_place: Api) -> None:
    release = asyncio.Event()
    held = await _hold_the_place(one_place, release)
    await one_place.http.post("/graphql", json={"query": "{ taxonomy { name } }"}, headers=AUTH)
    ready = await one_place.http.get("/readyz")
    healthy = await one_place.http.get("/healthz")
    release.set()
    await held
    assert (ready.status_code, ready.json()) == (503, {"status": "shedding"})
    assert healthy.status_code == 200


async def test_readyz_is_ready_again_once_nothing_was_refused_for_a_moment(one_place: Api) -> None:
    release = asyncio.Event()
    held = await _hold_the_place(one_place, release)
    await one_place.http.post("/graphql", json={"query": "{ taxonomy { name } }"}, headers=AUTH)
    release.set()
    await held
    await asyncio.sleep(2.1)  # SHED_MEMORY_SECONDS
    assert (await one_place.http.get("/readyz")).status_code == 200
