"""One poison message in a batch, on both ingest routes: refused by its index, the others stored,
never a 500 (Segment's clients would retry such a batch forever)."""

import json
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, Api
from tests.factories import track
from tests.graphql.test_track_events import TRACK

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
DEEP = "[" * 10_000 + "]" * 10_000
POISONS = [
    ('{"bad\\u0000key": 1}', "INVALID_KEY"),
    ('{"n": 18446744073709551616}', "NUMBER_OUT_OF_RANGE"),
    ('{"revenue": Infinity}', "NOT_FINITE"),
    ('{"deep": ' + DEEP + "}", "TOO_DEEP"),
]


def _messages(properties: str) -> str:
    good = json.dumps(track())
    poisoned = json.dumps({**track(), "properties": "@"})[:-1].replace('"@"', properties) + "}"
    return f"[{good}, {poisoned}, {json.dumps(track())}]"


@pytest.mark.parametrize(("properties", "code"), POISONS)
async def test_v1_batch_refuses_a_poison_message_by_index(api: Api, properties: str, code: str) -> None:
    body = '{"batch": ' + _messages(properties) + "}"
    response = await api.http.post("/v1/batch", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, code)]


@pytest.mark.parametrize(("properties", "code"), POISONS)
async def test_track_events_refuses_a_poison_message_by_index(api: Api, properties: str, code: str) -> None:
    body = '{"query": ' + json.dumps(TRACK) + ', "variables": {"events": ' + _messages(properties) + "}}"
    response = await api.http.post("/graphql", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result = response.json()["data"]["trackEvents"]
    assert result["accepted"] == 2
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, code)]


async def test_stored_non_finite_revenue_from_before_does_not_break_ltv(api: Api) -> None:
    await api.gql(TRACK, {"events": [track("order_completed", user_id="u", properties={"revenue": 10})]})
    await api.db["events"].update_one({}, {"$set": {"properties.revenue": float("inf")}})
    await api.gql(TRACK, {"events": [track("order_completed", user_id="u", properties={"revenue": 5})]})
    profile = await api.db["profiles"].find_one({"user_id": "u"})
    body = await api.gql("query($id: ID!) { ltv(profileId: $id) { revenue orders } }", {"id": profile["_id"]})
    assert "errors" not in body, body
    assert body["data"]["ltv"] == {"revenue": 5.0, "orders": 1}
