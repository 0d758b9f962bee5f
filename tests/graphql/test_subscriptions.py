"""profileScores over graphql-transport-ws, against a live server, fed by the change stream."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from server.settings import Settings
from tests.conftest import ADMIN_KEY, served
from tests.factories import track
from tests.graphql.test_track_events import TRACK

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


async def test_a_subscription_to_an_unknown_profile_ends_with_an_error(live: str) -> None:
    async with connect(f"ws://{live}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_KEY}"}})
        )
        assert (await _next(ws))["type"] == "connection_ack"
        subscribe = {"query": SUBSCRIBE, "variables": {"id": "prf_nobody"}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        answer = await _next(ws)
        assert answer["type"] == "next"
        assert answer["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in answer["payload"]["errors"]] == ["NOT_FOUND"]
        assert (await _next(ws)) == {"id": "1", "type": "complete"}
