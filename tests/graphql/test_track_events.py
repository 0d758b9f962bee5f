from typing import Any

from tests.conftest import Api
from tests.factories import ago, iso, track

TRACK = """mutation($events: [EventInput!]!) {
  trackEvents(events: $events) {
    accepted duplicates suppressed droppedNoConsent expired unplanned rejected { index code message field }
  }
}"""


async def _track(api: Api, events: list[dict[str, Any]], key: str | None = None, **kw: Any) -> dict[str, Any]:
    body = await api.gql(TRACK, {"events": events}, **({"key": key} if key else {}))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["trackEvents"]
    return result


async def test_valid_events_are_stored_and_counted(api: Api) -> None:
    result = await _track(api, [track("product_viewed"), track("product_added")])
    assert (result["accepted"], result["rejected"]) == (2, [])
    assert await api.db["events"].count_documents({}) == 2


async def test_an_ingest_key_may_track_events(api: Api) -> None:
    ingest = await api.key("INGEST")
    result = await _track(api, [track()], key=ingest)
    assert result["accepted"] == 1


async def test_a_resent_batch_is_counted_as_duplicates_and_stored_once(api: Api) -> None:
    batch = [track("product_viewed"), track("checkout_started")]
    await _track(api, batch)
    again = await _track(api, batch)
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert await api.db["events"].count_documents({}) == 2


async def test_the_same_message_twice_in_one_batch_is_stored_once(api: Api) -> None:
    message = track()
    result = await _track(api, [message, message])
    assert (result["accepted"], result["duplicates"]) == (1, 1)


async def test_a_message_without_message_id_but_with_a_timestamp_dedupes_on_retry(api: Api) -> None:
    message = track()
    del message["messageId"]
    await _track(api, [message])
    again = await _track(api, [message])
    assert again["duplicates"] == 1
    assert await api.db["events"].count_documents({}) == 1


async def test_invalid_events_are_reported_by_index_and_valid_ones_kept(api: Api) -> None:
    no_identity = track(anonymous_id=None)
    result = await _track(api, [track(), no_identity, track()])
    assert result["accepted"] == 2
    assert result["rejected"] == [
        {
            "index": 1,
            "code": "MISSING_IDENTITY",
            "message": "An event needs `userId` or `anonymousId`.",
            "field": "userId",
        }
    ]


async def test_a_placeholder_id_is_refused(api: Api) -> None:
    result = await _track(api, [track(anonymous_id="undefined")])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [("INVALID_ID", "anonymousId")]


async def test_a_track_event_without_a_name_is_refused(api: Api) -> None:
    message = track()
    del message["event"]
    result = await _track(api, [message])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [("MISSING_EVENT_NAME", "event")]


async def test_an_unparseable_timestamp_is_refused(api: Api) -> None:
    message = {**track(), "timestamp": "yesterday"}
    result = await _track(api, [message])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [("INVALID_TIMESTAMP", "timestamp")]


async def test_a_timestamp_more_than_a_day_ahead_is_refused(api: Api) -> None:
    result = await _track(api, [track(at=ago(hours=-26))])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [("TIMESTAMP_IN_FUTURE", "timestamp")]


async def test_an_old_timestamp_within_retention_is_accepted_for_backfills(api: Api) -> None:
    result = await _track(api, [track("order_completed", at=ago(days=300), properties={"revenue": 10})])
    assert result["accepted"] == 1


async def test_an_event_already_past_its_retention_is_counted_as_expired_and_not_stored(api: Api) -> None:
    result = await _track(api, [track("order_completed", at=ago(days=3 * 365), properties={"revenue": 10})])
    assert (result["accepted"], result["expired"]) == (0, 1)
    assert await api.db["events"].count_documents({}) == 0


async def test_sent_at_corrects_client_clock_skew(api: Api) -> None:
    # The device clock is 2 hours ahead: it stamped the event 10 s before sending it.
    skewed_event, skewed_send = ago(hours=-2, seconds=10), ago(hours=-2)
    message = {**track(), "timestamp": iso(skewed_event), "sentAt": iso(skewed_send)}
    await _track(api, [message])
    stored = await api.db["events"].find_one({})
    lag = stored["received_at"] - stored["timestamp"]
    assert 9.0 <= lag.total_seconds() <= 11.0


async def test_an_event_over_32_kb_is_refused_not_truncated(api: Api) -> None:
    big = track(properties={"query": "x" * 33_000})
    result = await _track(api, [track(), big])
    assert result["accepted"] == 1
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, "EVENT_TOO_LARGE")]


async def test_more_than_500_events_are_refused_whole(api: Api) -> None:
    events = [{"event": "product_viewed", "anonymousId": "a"}] * 501
    response = await api.http.post(
        "/graphql",
        json={"query": TRACK, "variables": {"events": events}},
        headers={"Authorization": "Bearer gr_test_bootstrap_admin_key"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "TOO_MANY_EVENTS", "field": "events"}
    assert await api.db["events"].count_documents({}) == 0


async def test_a_request_over_512_kb_is_refused_with_413(api: Api) -> None:
    events = [track(properties={"query": "y" * 20_000}) for _ in range(30)]
    response = await api.http.post(
        "/graphql",
        json={"query": TRACK, "variables": {"events": events}},
        headers={"Authorization": "Bearer gr_test_bootstrap_admin_key"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await api.db["events"].count_documents({}) == 0


async def test_unknown_event_names_are_stored_with_value_zero_and_counted_as_unplanned(
    api: Api,
) -> None:
    result = await _track(api, [track("mystery_clicked")])
    assert (result["accepted"], result["unplanned"]) == (1, 1)
    stored = await api.db["events"].find_one({})
    assert (stored["value"], stored["planned"]) == (0.0, False)
    unplanned = await api.gql("{ unplannedEvents { name count } }")
    assert unplanned["data"]["unplannedEvents"] == [{"name": "mystery_clicked", "count": 1}]


async def test_segment_style_event_names_map_to_the_taxonomy(api: Api) -> None:
    await _track(api, [track("Product Viewed")])
    stored = await api.db["events"].find_one({})
    assert (stored["event"], stored["phase"], stored["value"]) == (
        "product_viewed",
        "DISCOVERY",
        0.10,
    )


async def test_an_unknown_top_level_field_is_refused(api: Api) -> None:
    raw = {**track(), "password": "x"}
    # The typed EventInput refuses it before the resolver: a GraphQL validation error.
    body = await api.gql(TRACK, {"events": [raw]})
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
