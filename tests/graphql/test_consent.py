from typing import Any

from tests.conftest import Api
from tests.factories import track
from tests.graphql.test_track_events import TRACK

SET_CONSENT = """mutation($input: ConsentInput!) {
  setConsent(input: $input) { profileId purposes { purpose granted source } }
}"""


async def _track(
    api: Api, events: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await api.http.post(
        "/graphql",
        json={"query": TRACK, "variables": {"events": events}},
        headers={"Authorization": "Bearer gr_test_bootstrap_admin_key", **(headers or {})},
    )
    result: dict[str, Any] = response.json()["data"]["trackEvents"]
    return result


async def test_without_a_grant_behavioural_events_are_dropped_in_opt_in_mode(api: Api) -> None:
    result = await _track(api, [track(consent=None)])
    assert (result["accepted"], result["droppedNoConsent"]) == (0, 1)
    assert await api.db["events"].count_documents({}) == 0


async def test_purchases_are_necessary_and_stored_without_a_grant(api: Api) -> None:
    result = await _track(api, [track("order_completed", consent=None, properties={"revenue": 30})])
    assert result["accepted"] == 1


async def test_consent_in_the_event_context_is_recorded_before_the_event_is_judged(
    api: Api,
) -> None:
    result = await _track(api, [track(consent={"analytics": True})])
    assert result["accepted"] == 1
    entry = await api.db["consent_ledger"].find_one({"purpose": "analytics"})
    assert (entry["granted"], entry["source"]) == (True, "event")


async def test_repeating_the_same_preferences_does_not_grow_the_ledger(api: Api) -> None:
    await _track(api, [track(consent={"analytics": True}), track(consent={"analytics": True})])
    assert await api.db["consent_ledger"].count_documents({}) == 1


async def test_withdrawal_stops_collection_at_once(api: Api) -> None:
    await _track(api, [track(anonymous_id="a1")])
    body = await api.gql(
        SET_CONSENT, {"input": {"anonymousId": "a1", "purpose": "ANALYTICS", "granted": False}}
    )
    assert {"purpose": "ANALYTICS", "granted": False, "source": "API"} in body["data"]["setConsent"][
        "purposes"
    ]
    result = await _track(api, [track(anonymous_id="a1", consent=None)])
    assert (result["accepted"], result["droppedNoConsent"]) == (0, 1)


async def test_gpc_header_records_an_advertising_opt_out_that_outranks_a_grant(api: Api) -> None:
    await _track(api, [track(consent={"analytics": True, "advertising": True})], headers={"Sec-GPC": "1"})
    entries = [e async for e in api.db["consent_ledger"].find({"purpose": "advertising"})]
    assert [(e["granted"], e["source"]) for e in entries] == [(False, "gpc")]


async def test_gpc_in_the_event_context_records_an_advertising_opt_out(api: Api) -> None:
    await _track(api, [track(consent={"analytics": True}, context={"gpc": True})])
    entry = await api.db["consent_ledger"].find_one({"purpose": "advertising"})
    assert (entry["granted"], entry["source"]) == (False, "gpc")


async def test_each_stored_event_carries_the_consent_it_was_collected_under(api: Api) -> None:
    await _track(api, [track(consent={"analytics": True})])
    stored = await api.db["events"].find_one({})
    assert stored["consent"]["analytics"] is True
    assert stored["consent"]["personalization"] is False
    assert stored["consent"]["necessary"] is True


async def test_the_ledger_is_a_hash_chain_that_links_each_entry_to_the_previous(api: Api) -> None:
    await _track(api, [track(anonymous_id="a1", consent={"analytics": True, "personalization": True})])
    await api.gql(SET_CONSENT, {"input": {"anonymousId": "a1", "purpose": "ANALYTICS", "granted": False}})
    entries = [e async for e in api.db["consent_ledger"].find({}).sort("seq", 1)]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == ""
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]


async def test_consent_at_a_past_moment_is_answered_from_the_ledger(api: Api) -> None:
    body = await api.gql(SET_CONSENT, {"input": {"userId": "u1", "purpose": "ANALYTICS", "granted": True}})
    profile_id = body["data"]["setConsent"]["profileId"]
    granted_at = (await api.db["consent_ledger"].find_one({}))["at"]
    await api.gql(SET_CONSENT, {"input": {"userId": "u1", "purpose": "ANALYTICS", "granted": False}})
    query = "query($id: ID!, $at: DateTime!) { consentAt(profileId: $id, purpose: ANALYTICS, at: $at) { granted } }"
    then = await api.gql(query, {"id": profile_id, "at": granted_at.isoformat()})
    before = await api.gql(query, {"id": profile_id, "at": "2001-01-01T00:00:00+00:00"})
    assert then["data"]["consentAt"] == {"granted": True}
    assert before["data"]["consentAt"] is None


async def test_set_consent_without_any_id_names_the_field(api: Api) -> None:
    body = await api.gql(SET_CONSENT, {"input": {"purpose": "ANALYTICS", "granted": True}})
    assert body["errors"][0]["extensions"] == {"code": "MISSING_IDENTITY", "field": "userId"}
