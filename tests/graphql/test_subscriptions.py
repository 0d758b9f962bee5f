"""profileScores over graphql-transport-ws, against a live server, fed by the change stream."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from server.app import create_app
from server.cli import server_config
from server.graphql import view
from server.settings import Settings
from server.storage.embedded import free_port
from tests.conftest import ADMIN_KEY, CommandLog, served
from tests.factories import track
from tests.graphql.test_audiences import DEFINE, HIGH_INTENT_SHOES, SET_CONSENT, _shopper
from tests.graphql.test_track_events import TRACK
from tests.http.test_connections import serving

SUBSCRIBE = "subscription($id: ID!) { profileScores(profileId: $id) { profileId phase engagementScore } }"


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    with served(settings) as address:
        yield address


async def _post(http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        f"http://{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    body: dict[str, Any] = response.json()
    return body


async def _next(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
    return message


async def test_a_subscriber_receives_new_scores_after_an_event(live: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        await _post(http, live, TRACK, {"events": [track("product_viewed", user_id="u1", anonymous_id=None)]})
        profile = await _post(http, live, '{ profile(userId: "u1") { id } }', {})
        profile_id = profile["data"]["profile"]["id"]
        async with connect(f"ws://{live}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_KEY}"}})
            )
            assert (await _next(ws))["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": profile_id}},
                    }
                )
            )
            first = await _next(ws)
            assert first["payload"]["data"]["profileScores"]["phase"] == "DISCOVERY"
            await _post(
                http, live, TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None)]}
            )
            pushed = await _next(ws)
            assert pushed["type"] == "next"
            assert pushed["payload"]["data"]["profileScores"]["phase"] == "INTENT"


async def test_a_websocket_without_a_valid_key_is_refused(live: str) -> None:
    async with connect(f"ws://{live}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer gr_nope"}}))
        with pytest.raises(Exception, match="4403"):
            await _next(ws)


async def _subscribe(ws: Any, sub_id: str, subject_id: str, query: str = SUBSCRIBE) -> None:
    await ws.send(
        json.dumps(
            {
                "id": sub_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": {"id": subject_id}},
            }
        )
    )


async def _open(url: str, key: str = ADMIN_KEY) -> Any:
    ws = await connect(f"ws://{url}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
    assert (await _next(ws))["type"] == "connection_ack"
    return ws


async def _profile(http: httpx.AsyncClient, url: str, user_id: str) -> str:
    await _post(http, url, TRACK, {"events": [track("product_viewed", user_id=user_id, anonymous_id=None)]})
    found = await _post(http, url, f'{{ profile(userId: "{user_id}") {{ id }} }}', {})
    return str(found["data"]["profile"]["id"])


def _error_code(message: dict[str, Any]) -> str:
    """The code of a refused subscription, whichever way the protocol carries it."""
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return str(errors[0]["extensions"]["code"])


def _change_streams(commands: CommandLog) -> int:
    return sum(
        1
        for _, name, command in commands.seen
        if name == "aggregate" and any("$changeStream" in stage for stage in command.get("pipeline", []))
    )


async def test_many_subscriptions_share_one_change_stream(
    live: str,
    commands: CommandLog,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        ids = [await _profile(http, live, f"u{n}") for n in range(3)]
        sockets = [await _open(live), await _open(live)]
        try:
            for n, ws in enumerate(sockets):
                for m, profile_id in enumerate(ids):
                    await _subscribe(ws, f"{n}-{m}", profile_id)
                    assert (await _next(ws))["type"] == "next"
            await _post(
                http, live, TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None)]}
            )
            for ws in sockets:
                pushed = await _next(ws)
                assert pushed["payload"]["data"]["profileScores"] == {
                    "profileId": ids[1],
                    "phase": "INTENT",
                    "engagementScore": pushed["payload"]["data"]["profileScores"]["engagementScore"],
                }
        finally:
            for ws in sockets:
                await ws.close()
    assert _change_streams(commands) == 1


@pytest.fixture
def capped(settings: Settings) -> Iterator[str]:
    with served(settings.model_copy(update={"subscriptions_per_key": 2})) as address:
        yield address


async def test_subscriptions_per_key_are_capped_across_sockets(capped: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        profile_id = await _profile(http, capped, "u1")
        first, second = await _open(capped), await _open(capped)
        try:
            await _subscribe(first, "a", profile_id)
            assert (await _next(first))["type"] == "next"
            await _subscribe(second, "b", profile_id)
            assert (await _next(second))["type"] == "next"
            await _subscribe(second, "c", profile_id)
            refused = await _next(second)
            assert refused["id"] == "c"
            assert _error_code(refused) == "TOO_MANY_SUBSCRIPTIONS"
            assert await _next(second) == {"id": "c", "type": "complete"}
            await first.send(json.dumps({"id": "a", "type": "complete"}))
            await asyncio.sleep(0.5)
            await _subscribe(second, "d", profile_id)  # a place is free again
            assert (await _next(second))["type"] == "next"
        finally:
            await first.close()
            await second.close()


async def test_an_unknown_profile_gets_an_error_not_a_silent_completion(live: str) -> None:
    ws = await _open(live)
    try:
        await _subscribe(ws, "1", "prf_does_not_exist")
        answer = await _next(ws)
        assert _error_code(answer) == "NOT_FOUND"
        assert "No profile has this `profileId` in the key's workspace." in json.dumps(answer)
    finally:
        await ws.close()


@pytest.fixture
def quiet(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Served as `granular serve` serves (read timeout included), with a 2 s database time budget
    and a ping every half second."""
    monkeypatch.setattr(view, "KEEP_ALIVE_SECONDS", 0.5)
    settings = settings.model_copy(
        update={"port": free_port(), "db_timeout_ms": 2000, "read_timeout_seconds": 1.0}
    )
    with serving(server_config(create_app(settings, announce=lambda line: None), settings)) as port:
        yield f"127.0.0.1:{port}"


async def test_a_quiet_subscription_stays_open_past_the_database_time_budget(
    quiet: str, commands: CommandLog
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        profile_id = await _profile(http, quiet, "u1")
        ws = await _open(quiet)
        try:
            await _subscribe(ws, "1", profile_id)
            assert (await _next(ws))["type"] == "next"
            quiet_until, pings = asyncio.get_running_loop().time() + 6, 0
            while asyncio.get_running_loop().time() < quiet_until:  # 3 budgets, 6 read timeouts
                assert await _next(ws) == {"type": "ping"}
                await ws.send(json.dumps({"type": "pong"}))
                pings += 1
            assert pings >= 10
            await _post(
                http, quiet, TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None)]}
            )
            while (pushed := await _next(ws))["type"] == "ping":
                pass
            assert pushed["type"] == "next"
            assert pushed["payload"]["data"]["profileScores"]["phase"] == "INTENT"
        finally:
            await ws.close()
    assert _change_streams(commands) == 1  # the one stream lived throughout: never timed out, never restarted


CHANGES = "subscription($id: ID!) { audienceChanges(audienceId: $id) { audienceId profileId entered at } }"


async def _watching(commands: CommandLog, collection: str) -> None:
    """Until the server has opened its change stream on `collection` (and a moment for its answer)."""
    async with asyncio.timeout(20):
        while not any(  # noqa: ASYNC110 - the driver's command listener has nothing to await
            name == "aggregate"
            and command.get("aggregate") == collection
            and any("$changeStream" in stage for stage in command.get("pipeline", []))
            for _, name, command in commands.seen
        ):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)


async def test_an_audience_subscriber_is_told_of_each_entry_and_exit(live: str, commands: CommandLog) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        defined = await _post(http, live, DEFINE, {"input": HIGH_INTENT_SHOES})
        audience_id = defined["data"]["defineAudience"]["audience"]["id"]
        ws = await _open(live)
        try:
            await _subscribe(ws, "1", audience_id, CHANGES)
            await _watching(commands, "audience_members")  # subscribed before the shopper arrives
            await _post(http, live, TRACK, {"events": _shopper("ana")})
            entered = (await _next(ws))["payload"]["data"]["audienceChanges"]
            profile_id = (await _post(http, live, '{ profile(userId: "ana") { id } }', {}))["data"][
                "profile"
            ]["id"]
            await _post(
                http,
                live,
                SET_CONSENT,
                {"input": {"userId": "ana", "purpose": "PERSONALIZATION", "granted": False}},
            )
            left = (await _next(ws))["payload"]["data"]["audienceChanges"]
        finally:
            await ws.close()
    assert (entered["audienceId"], entered["profileId"], entered["entered"]) == (
        audience_id,
        profile_id,
        True,
    )
    assert (left["profileId"], left["entered"]) == (profile_id, False)


async def test_an_unknown_audience_gets_an_error_not_a_silent_completion(live: str) -> None:
    ws = await _open(live)
    try:
        await _subscribe(ws, "1", "aud_nope", CHANGES)
        answer = await _next(ws)
        assert _error_code(answer) == "NOT_FOUND"
        assert "audienceId" in json.dumps(answer)
    finally:
        await ws.close()
