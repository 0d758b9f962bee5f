import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, served
from tests.factories import track


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def test_batch_stores_valid_messages_and_reports_bad_ones_by_index(api: Api) -> None:
    body = {"batch": [track(), {**track(), "password": "x"}], "sentAt": track()["timestamp"]}
    response = await api.http.post("/v1/batch", json=body, headers=_basic(ADMIN_KEY))
    assert response.status_code == 200
    result = response.json()
    assert (result["success"], result["accepted"]) == (True, 1)
    assert [(r["index"], r["code"], r["field"]) for r in result["rejected"]] == [
        (1, "UNKNOWN_FIELD", "password")
    ]


async def test_gzip_bodies_are_accepted(api: Api) -> None:
    raw = gzip.compress(json.dumps({"batch": [track()]}).encode())
    response = await api.http.post(
        "/v1/batch",
        content=raw,
        headers={
            **_basic(ADMIN_KEY),
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert response.json()["accepted"] == 1


async def test_a_gzip_bomb_is_refused_with_413(api: Api) -> None:
    raw = gzip.compress(json.dumps({"batch": [track(properties={"query": "z" * 2_000_000})]}).encode())
    response = await api.http.post(
        "/v1/batch", content=raw, headers={**_basic(ADMIN_KEY), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_single_track_endpoint_answers_400_with_a_code_for_a_bad_message(api: Api) -> None:
    response = await api.http.post("/v1/track", json={"event": "product_viewed"}, headers=_basic(ADMIN_KEY))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "MISSING_IDENTITY"


async def test_identify_endpoint_sets_traits(api: Api) -> None:
    response = await api.http.post(
        "/v1/identify", json={"userId": "u9", "traits": {"plan": "pro"}}, headers=_basic(ADMIN_KEY)
    )
    assert response.status_code == 200
    stored = await api.db["profiles"].find_one({"user_id": "u9"})
    assert stored["traits"]["plan"]["v"] == "pro"


async def test_alias_joins_an_anonymous_profile_to_a_user(api: Api) -> None:
    await api.http.post("/v1/track", json=track(anonymous_id="anon-9"), headers=_basic(ADMIN_KEY))
    response = await api.http.post(
        "/v1/alias", json={"previousId": "anon-9", "userId": "u9"}, headers=_basic(ADMIN_KEY)
    )
    assert response.status_code == 200
    assert await api.db["profiles"].count_documents({"user_id": "u9", "anonymous_ids": "anon-9"}) == 1


async def test_segment_endpoints_need_a_key(api: Api) -> None:
    response = await api.http.post("/v1/batch", json={"batch": [track()]})
    assert response.status_code == 401


async def test_a_read_only_key_may_not_ingest(api: Api) -> None:
    analyst = await api.key("ANALYST")
    response = await api.http.post("/v1/batch", json={"batch": [track()]}, headers=_basic(analyst))
    assert response.status_code == 403
    assert await api.db["events"].count_documents({}) == 0


@pytest.fixture
def live_server(settings: Settings) -> Iterator[tuple[str, Settings]]:
    with served(settings) as address:
        yield f"http://{address}", settings


def test_segments_own_python_library_round_trips(live_server: tuple[str, Settings]) -> None:
    import pymongo
    from segment.analytics import Client

    url, settings = live_server
    errors: list[Any] = []
    client = Client(ADMIN_KEY, host=url, gzip=True, sync_mode=True, on_error=lambda e, b: errors.append(e))
    consent = {"consent": {"categoryPreferences": {"analytics": True, "personalization": True}}}
    client.identify("seg-user", {"plan": "pro"}, context=consent)
    client.track("seg-user", "Product Viewed", {"category": "shoes", "sku": "S1"}, context=consent)
    client.page("seg-user", "shoes", "Shoe list", context=consent)
    client.flush()
    assert errors == []
    with pymongo.MongoClient(settings.mongodb_uri.get_secret_value()) as mongo:  # type: ignore[union-attr]
        db = mongo[settings.database]
        assert db["profiles"].count_documents({"user_id": "seg-user"}) == 1
        assert sorted(e["event"] for e in db["events"].find({})) == [
            "page_viewed",
            "product_viewed",
        ]
