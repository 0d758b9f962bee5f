import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, running, served
from tests.factories import ALL_GRANTED, track

SHOP = "https://shop.example"
CONSENT = {"consent": {"categoryPreferences": ALL_GRANTED}}


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


@pytest.mark.parametrize(
    ("short", "long"), [("t", "track"), ("p", "page"), ("i", "identify"), ("a", "alias"), ("s", "screen")]
)
async def test_each_short_path_takes_the_message_of_its_long_name(api: Api, short: str, long: str) -> None:
    message = {"anonymousId": "anon-1", "userId": "u1", "event": "product_viewed", "context": CONSENT}
    if long == "alias":
        message = {"previousId": "anon-1", "userId": "u1"}
    response = await api.http.post(f"/v1/{short}", json=message, headers=_basic(ADMIN_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    expected = {"track": ["product_viewed"], "page": ["page_viewed"], "screen": ["screen_viewed"]}
    assert [e["event"] async for e in api.db["events"].find({})] == expected.get(long, [])


async def test_the_short_batch_path_takes_a_batch(api: Api) -> None:
    response = await api.http.post("/v1/b", json={"batch": [track(), track()]}, headers=_basic(ADMIN_KEY))
    assert response.json()["accepted"] == 2


async def test_an_unknown_path_under_v1_is_not_found(api: Api) -> None:
    response = await api.http.post("/v1/x", json=track(), headers=_basic(ADMIN_KEY))
    assert response.status_code == 404


@pytest.mark.xfail(strict=True, reason="groups land with the ingest rewrite")
@pytest.mark.parametrize("path", ["/v1/group", "/v1/g"])
async def test_a_group_call_links_the_profile_to_its_group(api: Api, path: str) -> None:
    message = {"userId": "u1", "groupId": "acme", "traits": {"plan": "b2b"}, "context": CONSENT}
    response = await api.http.post(path, json=message, headers=_basic(ADMIN_KEY))
    assert response.status_code == 200, response.text
    body = await api.gql('{ profile(userId: "u1") { groups { id } } }')
    assert body["data"]["profile"]["groups"] == [{"id": "acme"}]


async def test_the_bodys_write_key_authenticates_a_single_message(api: Api) -> None:
    response = await api.http.post("/v1/t", json={**track(), "writeKey": ADMIN_KEY})
    assert response.status_code == 200
    assert await api.db["events"].count_documents({}) == 1


async def test_the_bodys_write_key_authenticates_a_batch(api: Api) -> None:
    response = await api.http.post("/v1/b", json={"batch": [track()], "writeKey": ADMIN_KEY})
    assert response.json()["accepted"] == 1


async def test_a_bearer_key_authenticates_a_batch(api: Api) -> None:
    response = await api.http.post(
        "/v1/batch", json={"batch": [track()]}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "header", ["Basic " + base64.b64encode(b"gr_wrong:").decode(), "Bearer gr_wrong", "Basic"]
)
async def test_a_body_key_never_overrides_a_header(api: Api, header: str) -> None:
    body = {"batch": [track()], "writeKey": ADMIN_KEY}
    response = await api.http.post("/v1/batch", json=body, headers={"Authorization": header})
    assert response.status_code == 401
    assert await api.db["events"].count_documents({}) == 0


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/t", "/v1/identify"])
async def test_a_refused_key_is_asked_for_basic_credentials(api: Api, path: str) -> None:
    response = await api.http.post(path, json={"batch": [track()], "writeKey": "gr_wrong"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Granular"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_messages_write_key_does_not_change_its_derived_id(api: Api) -> None:
    message = {k: v for k, v in track().items() if k != "messageId"}
    await api.http.post("/v1/track", json=message, headers=_basic(ADMIN_KEY))
    response = await api.http.post("/v1/track", json={**message, "writeKey": ADMIN_KEY})
    assert response.json()["duplicates"] == 1


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/json"])
async def test_json_is_read_whether_sent_as_text_or_json(api: Api, content_type: str) -> None:
    response = await api.http.post(
        "/v1/batch",
        content=json.dumps({"batch": [track()], "writeKey": ADMIN_KEY}),
        headers={"Content-Type": content_type},
    )
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Encoding": "br"},
    ],
)
async def test_a_body_in_another_type_or_encoding_is_refused_with_415(
    api: Api, headers: dict[str, str]
) -> None:
    response = await api.http.post(
        "/v1/batch", content=json.dumps({"batch": [track()]}), headers={**_basic(ADMIN_KEY), **headers}
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_body_that_is_not_json_is_refused_with_400(api: Api) -> None:
    response = await api.http.post("/v1/t", content=b"{not json", headers=_basic(ADMIN_KEY))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"


async def _allow_origins(api: Api, origins: list[str], key: str = ADMIN_KEY) -> None:
    body = await api.gql(
        "mutation($o: [String!]) { updateWorkspaceSettings(input: {allowedOrigins: $o}) { allowedOrigins } }",
        {"o": origins},
        key=key,
    )
    assert "errors" not in body, body


async def _send_from(api: Api, key: str, origin: str | None) -> httpx.Response:
    headers = {"Content-Type": "text/plain", **({"Origin": origin} if origin else {})}
    return await api.http.post("/v1/t", content=json.dumps({**track(), "writeKey": key}), headers=headers)


async def test_an_ingest_key_from_an_origin_its_workspace_allows_is_answered_with_cors_headers(
    api: Api,
) -> None:
    await _allow_origins(api, [SHOP])
    response = await _send_from(api, await api.key("INGEST"), SHOP)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP


async def test_an_ingest_key_from_an_origin_its_workspace_does_not_allow_is_refused(api: Api) -> None:
    await _allow_origins(api, ["https://other-brand.example"], key=await api.key_in("other", "ADMIN"))
    response = await _send_from(api, await api.key("INGEST"), "https://other-brand.example")
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert await api.db["events"].count_documents({}) == 0


async def test_an_ingest_key_without_an_origin_is_a_server_and_is_accepted(api: Api) -> None:
    response = await _send_from(api, await api.key("INGEST"), None)
    assert response.status_code == 200


async def test_a_preflight_from_an_allowed_origin_allows_the_headers_segments_library_sends(api: Api) -> None:
    await _allow_origins(api, [SHOP])
    response = await api.http.options(
        "/v1/t",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-retry-count",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-retry-count"} <= allowed


async def test_a_preflight_from_an_origin_no_workspace_allows_is_refused(api: Api) -> None:
    await _allow_origins(api, [SHOP])
    response = await api.http.options(
        "/v1/t", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_key_over_its_rate_on_a_route_is_told_to_retry_later(settings: Settings) -> None:
    async with running(settings.model_copy(update={"rate_limit_per_minute": 6})) as api:
        statuses = []
        for path in ("/v1/track", "/v1/t"):
            response = await api.http.post(path, json=track(), headers=_basic(ADMIN_KEY))
            statuses.append(response.status_code)
        assert statuses == [200, 429]
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(response.headers["Retry-After"]) >= 1


async def test_rate_limits_are_counted_per_route(settings: Settings) -> None:
    async with running(settings.model_copy(update={"rate_limit_per_minute": 6})) as api:
        first = await api.http.post("/v1/track", json=track(), headers=_basic(ADMIN_KEY))
        other = await api.http.post("/v1/batch", json={"batch": [track()]}, headers=_basic(ADMIN_KEY))
        assert (first.status_code, other.status_code) == (200, 200)


async def test_the_browser_librarys_telemetry_is_accepted_and_discarded(api: Api) -> None:
    response = await api.http.post("/v1/m", content=b'{"series": []}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 204


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
