from typing import Any

import pytest
from bson import ObjectId

from server.storage.events import new_event_id
from tests.conftest import Api, CommandLog
from tests.factories import ALL_GRANTED, ago, track
from tests.graphql.test_track_events import TRACK

IDENTIFY = "mutation($input: IdentifyInput!) { identify(input: $input) { id userId anonymousIds traits } }"
PROFILE = """query($userId: String, $anonymousId: String, $id: ID) {
  profile(userId: $userId, anonymousId: $anonymousId, id: $id) {
    id userId anonymousIds phase engagementScore intentScore traits
    affinities { key weight } consent { purpose granted source }
  }
}"""


async def _track(api: Api, events: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    body = await api.gql(TRACK, {"events": events}, **({"key": key} if key else {}))
    result: dict[str, Any] = body["data"]["trackEvents"]
    return result


async def test_identify_links_an_anonymous_visitor_to_their_user_id(api: Api) -> None:
    await _track(api, [track(anonymous_id="a1")])
    body = await api.gql(
        IDENTIFY, {"input": {"userId": "u1", "anonymousId": "a1", "traits": {"plan": "gold"}}}
    )
    assert body["data"]["identify"]["userId"] == "u1"
    assert body["data"]["identify"]["anonymousIds"] == ["a1"]
    assert await api.db["profiles"].count_documents({}) == 1


async def test_two_profiles_of_one_person_merge_with_events_and_most_restrictive_consent(
    api: Api,
) -> None:
    await _track(
        api,
        [
            track(
                "product_viewed",
                anonymous_id="phone",
                consent={**ALL_GRANTED, "marketing_email": False},
            )
        ],
    )
    await _track(api, [track("product_added", user_id="u1", anonymous_id="laptop")])
    # No consent in this message's context: what the merge decided stands.
    await _track(api, [track("checkout_started", user_id="u1", anonymous_id="phone", consent=None)])
    live = [p async for p in api.db["profiles"].find({"merged_into": None})]
    assert len(live) == 1
    winner = live[0]
    assert sorted(winner["anonymous_ids"]) == ["laptop", "phone"]
    assert winner["consent"]["marketing_email"]["granted"] is False
    assert await api.db["events"].count_documents({"profile_id": winner["_id"]}) == 3
    loser = await api.db["profiles"].find_one({"merged_into": winner["_id"]})
    assert loser is not None
    merges = await api.gql(
        "query($id: ID!) { identityMerges(profileId: $id) { rule merged } }", {"id": winner["_id"]}
    )
    assert merges["data"]["identityMerges"] == [{"rule": "anonymous_into_identified", "merged": True}]


async def test_a_browser_key_cannot_merge_two_identified_customers(api: Api) -> None:
    ingest = await api.key("INGEST")
    await _track(api, [track(user_id="u1", anonymous_id="shared")], key=ingest)
    await _track(api, [track(user_id="u2", anonymous_id="other")], key=ingest)
    await _track(api, [track(user_id="u2", anonymous_id="shared")], key=ingest)
    assert await api.db["profiles"].count_documents({"merged_into": None}) == 2


async def test_an_admin_key_may_merge_two_identified_customers(api: Api) -> None:
    await _track(api, [track(user_id="u1", anonymous_id="d1")])
    await _track(api, [track(user_id="u2", anonymous_id="d2")])
    await _track(api, [track(user_id="u2", anonymous_id="d1")])
    assert await api.db["profiles"].count_documents({"merged_into": None}) == 1


async def test_a_merged_id_still_finds_the_surviving_profile(api: Api) -> None:
    await _track(api, [track(anonymous_id="phone")])
    await _track(api, [track(user_id="u1", anonymous_id="laptop")])
    await _track(api, [track(user_id="u1", anonymous_id="phone")])
    body = await api.gql(PROFILE, {"anonymousId": "phone"})
    assert body["data"]["profile"]["userId"] == "u1"


async def test_scores_and_phase_come_from_consented_events(api: Api) -> None:
    await _track(api, [track("product_viewed", user_id="u1"), track("checkout_started", user_id="u1")])
    profile = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]
    assert profile["phase"] == "INTENT"
    assert 0.74 < profile["engagementScore"] <= 0.75
    assert 0 < profile["intentScore"] < 1


JOURNEY = "query($u: String) { profile(userId: $u) { phase journeyOpen intentScore } }"


async def test_after_a_purchase_the_phase_stays_action_with_the_journey_closed(api: Api) -> None:
    await _track(
        api,
        [
            track("checkout_started", user_id="u1", at=ago(minutes=30)),
            track("order_completed", user_id="u1", at=ago(minutes=20), properties={"revenue": 40}),
            track("page_viewed", user_id="u1", at=ago(minutes=10)),
        ],
    )
    profile = (await api.gql(JOURNEY, {"u": "u1"}))["data"]["profile"]
    assert profile == {"phase": "ACTION", "journeyOpen": False, "intentScore": 0.0}


async def test_a_micro_conversion_after_the_purchase_opens_a_new_journey(api: Api) -> None:
    await _track(
        api,
        [
            track("order_completed", user_id="u1", at=ago(days=3), properties={"revenue": 40}),
            track("product_viewed", user_id="u1", at=ago(minutes=10)),
        ],
    )
    profile = (await api.gql(JOURNEY, {"u": "u1"}))["data"]["profile"]
    assert (profile["phase"], profile["journeyOpen"]) == ("DISCOVERY", True)


async def test_without_personalization_consent_no_scores_are_shown(api: Api) -> None:
    await _track(api, [track("product_viewed", user_id="u1", consent={"analytics": True})])
    profile = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]
    assert (profile["phase"], profile["engagementScore"], profile["intentScore"]) == (
        None,
        None,
        None,
    )
    assert (await api.gql(JOURNEY, {"u": "u1"}))["data"]["profile"]["journeyOpen"] is None


async def test_affinities_follow_viewed_categories(api: Api) -> None:
    await _track(
        api,
        [
            track("product_viewed", user_id="u1", properties={"category": "Shoes"}),
            track("size_guide_viewed", user_id="u1", properties={"category": "Shoes"}),
            track("product_viewed", user_id="u1", properties={"category": "Hats"}),
        ],
    )
    profile = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]
    keys = [a["key"] for a in profile["affinities"]]
    assert keys[0] == "category:shoes"
    assert "category:hats" in keys


async def test_personal_traits_are_hidden_from_personalization_keys(api: Api) -> None:
    await api.gql(
        IDENTIFY,
        {"input": {"userId": "u1", "traits": {"email": "ana@example.com", "plan": "gold"}}},
    )
    engine = await api.key("PERSONALIZATION")
    seen = (await api.gql(PROFILE, {"userId": "u1"}, key=engine))["data"]["profile"]["traits"]
    assert seen == {"plan": "gold"}


async def test_personal_traits_are_decrypted_for_compliance_and_the_read_is_audited(
    api: Api,
) -> None:
    await api.gql(IDENTIFY, {"input": {"userId": "u1", "traits": {"email": "ana@example.com"}}})
    compliance = await api.key("COMPLIANCE")
    seen = (await api.gql(PROFILE, {"userId": "u1"}, key=compliance))["data"]["profile"]["traits"]
    assert seen == {"email": "ana@example.com"}
    audit = await api.db["audit_log"].find_one({"action": "pii.read"})
    assert audit["details"] == {"fields": ["email"]}
    assert "ana@example.com" not in str(audit)


async def test_the_profiles_collection_holds_no_plaintext_email(api: Api) -> None:
    await api.gql(
        IDENTIFY,
        {
            "input": {
                "userId": "u1",
                "traits": {"email": "Ana@Example.com", "phone": "+44 20 7946 0958"},
            }
        },
    )
    raw = [doc async for doc in api.db["profiles"].find({})]
    assert "ana@example.com" not in str(raw).lower()
    assert "7946 0958" not in str(raw)
    assert "+442079460958" not in str(raw)


async def test_profiles_can_be_found_by_email_through_the_blind_index(api: Api) -> None:
    await api.gql(IDENTIFY, {"input": {"userId": "u1", "traits": {"email": "ana@example.com"}}})
    body = await api.gql('{ profiles(filter: {email: "  ANA@example.com "}) { edges { node { userId } } } }')
    assert body["data"]["profiles"]["edges"] == [{"node": {"userId": "u1"}}]


async def test_analysts_may_not_search_by_email(api: Api) -> None:
    analyst = await api.key("ANALYST")
    body = await api.gql('{ profiles(filter: {email: "a@b.co"}) { edges { cursor } } }', key=analyst)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_journey_pages_through_events_oldest_first(api: Api) -> None:
    await _track(
        api,
        [
            track("product_viewed", user_id="u1", at=ago(minutes=30)),
            track("product_added", user_id="u1", at=ago(minutes=20)),
            track("checkout_started", user_id="u1", at=ago(minutes=10)),
        ],
    )
    profile_id = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]["id"]
    query = """query($id: ID!, $after: String) { journey(profileId: $id, first: 2, after: $after) {
      edges { cursor node { event phase value } } pageInfo { hasNextPage endCursor } } }"""
    first = (await api.gql(query, {"id": profile_id}))["data"]["journey"]
    assert [e["node"]["event"] for e in first["edges"]] == ["product_viewed", "product_added"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await api.gql(query, {"id": profile_id, "after": first["pageInfo"]["endCursor"]}))["data"][
        "journey"
    ]
    assert [e["node"]["event"] for e in second["edges"]] == ["checkout_started"]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_stored_events_are_minimized(api: Api) -> None:
    await _track(
        api,
        [
            track(
                "products_searched",
                user_id="u1",
                properties={"query": "red shoes for ana@example.com", "secret_field": "x"},
                context={
                    "ip": "203.0.113.77",
                    "page": {"url": "https://shop.example/s?q=ana&utm_source=news"},
                },
            )
        ],
    )
    stored = await api.db["events"].find_one({})
    assert "ana@example.com" not in str(stored)
    assert "secret_field" not in stored["properties"]
    assert stored["context"]["ip"] == "203.0.113.0"
    assert "q=ana" not in stored["context"]["page"]["url"]
    assert "utm_source=news" in stored["context"]["page"]["url"]


async def test_another_workspaces_key_sees_its_profiles_as_missing_and_writes_apart(
    api: Api,
) -> None:
    await _track(api, [track(user_id="u1")])
    profile_id = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]["id"]
    other = await api.key_in("other-shop", "ADMIN")
    by_id = await api.gql(PROFILE, {"id": profile_id}, key=other)
    missing = await api.gql(PROFILE, {"id": "prf_does_not_exist"}, key=other)
    assert by_id == missing == {"data": {"profile": None}}
    assert (await api.gql(PROFILE, {"userId": "u1"}, key=other)) == {"data": {"profile": None}}
    await _track(api, [track("product_added", user_id="u1")], key=other)
    assert await api.db["profiles"].count_documents({"user_id": "u1"}) == 2
    assert await api.db["events"].count_documents({"profile_id": profile_id}) == 1


async def test_score_explanation_lists_the_events_behind_the_scores(api: Api) -> None:
    await _track(api, [track("product_viewed", user_id="u1"), track("checkout_started", user_id="u1")])
    query = """{ profile(userId: "u1") { engagementScore scoreExplanation {
      engagementScore engagement { event value decay weight } intent { event } } } }"""
    profile = (await api.gql(query))["data"]["profile"]
    explanation = profile["scoreExplanation"]
    assert [c["event"] for c in explanation["engagement"]] == ["checkout_started", "product_viewed"]
    assert [c["event"] for c in explanation["intent"]] == ["checkout_started", "product_viewed"]
    assert explanation["engagementScore"] == pytest.approx(profile["engagementScore"], rel=1e-6)
    top = explanation["engagement"][0]
    assert top["weight"] == top["value"] * top["decay"]


async def test_no_explanation_without_personalization_consent(api: Api) -> None:
    await _track(api, [track("product_viewed", user_id="u1", consent={"analytics": True})])
    body = await api.gql('{ profile(userId: "u1") { scoreExplanation { engagementScore } } }')
    assert body["data"]["profile"]["scoreExplanation"] is None


async def test_conversion_probability_is_absent_until_a_model_is_fitted_then_a_probability(api: Api) -> None:
    events = []
    for i in range(40):
        checkout = i % 2 == 0
        events.append(track("product_viewed", user_id=f"old{i}", anonymous_id=None, at=ago(days=60 + i)))
        if checkout:
            events.append(
                track(
                    "checkout_started", user_id=f"old{i}", anonymous_id=None, at=ago(days=60 + i, minutes=-5)
                )
            )
        if (checkout and i % 4 == 0) or i % 10 == 1:
            events.append(
                track(
                    "order_completed",
                    user_id=f"old{i}",
                    anonymous_id=None,
                    at=ago(days=60 + i, minutes=-10),
                    properties={"revenue": 30},
                )
            )
    events.append(track("checkout_started", user_id="now", anonymous_id=None, at=ago(minutes=5)))
    await _track(api, events)
    query = '{ profile(userId: "now") { conversionProbability } }'
    assert (await api.gql(query))["data"]["profile"]["conversionProbability"] is None
    fit = await api.gql(
        "mutation { fitModels { conversionModel { auc journeys conversions } conversionModelError } }"
    )
    model = fit["data"]["fitModels"]["conversionModel"]
    assert (model["journeys"], model["conversions"]) == (40, 14)
    probability = (await api.gql(query))["data"]["profile"]["conversionProbability"]
    assert 0 < probability < 1


async def test_withdrawing_personalization_removes_the_scores_at_once(api: Api) -> None:
    await _track(api, [track("checkout_started", user_id="u1", anonymous_id=None)])
    assert (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]["phase"] == "INTENT"
    await api.gql(
        'mutation { setConsent(input: {userId: "u1", purpose: PERSONALIZATION, granted: false}) { profileId } }'
    )
    profile = (await api.gql(PROFILE, {"userId": "u1"}))["data"]["profile"]
    assert (profile["phase"], profile["engagementScore"], profile["intentScore"], profile["affinities"]) == (
        None,
        None,
        None,
        [],
    )


async def test_a_profile_look_up_without_any_id_is_refused_with_a_code(api: Api) -> None:
    body = await api.gql("{ profile { id } }")
    error = body["errors"][0]
    assert error["extensions"] == {"code": "MISSING_IDENTITY", "field": "id"}
    assert error["message"] == "Give one of `id`, `userId` or `anonymousId`."


BY_IDS = """query($ids: [ID!], $userIds: [String!], $anonymousIds: [String!]) {
  profilesByIds(ids: $ids, userIds: $userIds, anonymousIds: $anonymousIds) { id userId anonymousIds } }"""


async def _profile_id(api: Api, **ids: str) -> str:
    """The id of the profile holding these ids (`userId` or `anonymousId`)."""
    profile_id: str = (await api.gql(PROFILE, ids))["data"]["profile"]["id"]
    return profile_id


async def test_profiles_by_ids_answer_each_id_in_order_with_null_for_unknown_ones(api: Api) -> None:
    await _track(api, [track(user_id="u1", anonymous_id="a1"), track(user_id=None, anonymous_id="a2")])
    u1, a2 = await _profile_id(api, userId="u1"), await _profile_id(api, anonymousId="a2")
    body = await api.gql(
        BY_IDS, {"ids": [a2, "prf_unknown"], "userIds": ["u1", "u-unknown"], "anonymousIds": ["a1", "a2"]}
    )
    assert [p and p["id"] for p in body["data"]["profilesByIds"]] == [a2, None, u1, None, u1, a2]


async def test_profiles_by_ids_answer_another_workspaces_ids_like_unknown_ones(api: Api) -> None:
    other = await api.key_in("other", "INGEST")
    await _track(api, [track(user_id="theirs", anonymous_id="their-device")], key=other)
    theirs = [doc["_id"] async for doc in api.db["profiles"].find({})]
    body = await api.gql(
        BY_IDS, {"ids": theirs, "userIds": ["theirs"], "anonymousIds": ["their-device", "nobody"]}
    )
    assert body["data"]["profilesByIds"] == [None, None, None, None]


async def test_profiles_by_ids_lead_a_merged_id_to_the_surviving_profile(api: Api) -> None:
    await _track(api, [track(anonymous_id="phone")])
    loser = await _profile_id(api, anonymousId="phone")
    await _track(api, [track(user_id="u1", anonymous_id="laptop")])
    await _track(api, [track(user_id="u1", anonymous_id="phone")])
    body = await api.gql(BY_IDS, {"ids": [loser], "anonymousIds": ["phone"]})
    survivors = body["data"]["profilesByIds"]
    assert [p["userId"] for p in survivors] == ["u1", "u1"]
    assert survivors[0]["id"] != loser


async def test_profiles_by_ids_read_the_identity_map_once_and_the_profiles_once(
    api: Api, commands: CommandLog
) -> None:
    await _track(api, [track(user_id="u1", anonymous_id="a1"), track(user_id=None, anonymous_id="a2")])
    u1 = await _profile_id(api, userId="u1")
    commands.seen.clear()
    body = await api.gql(BY_IDS, {"ids": [u1], "userIds": ["u1"], "anonymousIds": ["a2"]})
    assert all(body["data"]["profilesByIds"])
    lookups = [sent for sent in commands.sent_to(api.db.name) if sent[1] in ("identities", "profiles")]
    assert sorted(lookups) == [("find", "identities"), ("find", "profiles")]


async def test_profiles_by_ids_refuse_more_than_500_ids(api: Api) -> None:
    body = await api.gql(
        BY_IDS, {"ids": [f"prf_{i}" for i in range(300)], "userIds": [f"u{i}" for i in range(201)]}
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TOO_MANY_IDS"]


PII_TRAITS = {"email": "ana@example.com", "plan": "gold"}


async def _pii_reads(api: Api) -> list[dict[str, Any]]:
    return [doc async for doc in api.db["audit_log"].find({"action": "pii.read"})]


async def test_reading_profiles_without_traits_decrypts_and_audits_nothing(api: Api) -> None:
    await api.gql(IDENTIFY, {"input": {"userId": "u1", "traits": PII_TRAITS}})
    before = len(await _pii_reads(api))
    body = await api.gql("{ profiles(first: 5) { edges { node { id userId } } } }")
    assert len(body["data"]["profiles"]["edges"]) == 1
    assert len(await _pii_reads(api)) == before


async def test_reading_traits_audits_one_pii_read_per_profile_read(api: Api) -> None:
    for user in ("u1", "u2"):
        await api.gql(IDENTIFY, {"input": {"userId": user, "traits": PII_TRAITS}})
    before = len(await _pii_reads(api))
    body = await api.gql("{ profiles(first: 5) { edges { node { traits } } } }")
    assert [e["node"]["traits"]["email"] for e in body["data"]["profiles"]["edges"]] == [
        PII_TRAITS["email"]
    ] * 2
    reads = (await _pii_reads(api))[before:]
    assert sorted(r["details"]["fields"] for r in reads) == [["email"], ["email"]]
    assert len({r["profile_id"] for r in reads}) == 2


async def test_traits_show_a_personalization_key_no_personal_field_and_audit_nothing(api: Api) -> None:
    await api.gql(IDENTIFY, {"input": {"userId": "u1", "traits": PII_TRAITS}})
    before = len(await _pii_reads(api))
    personalization = await api.key("PERSONALIZATION")
    body = await api.gql('{ profile(userId: "u1") { traits } }', key=personalization)
    assert body["data"]["profile"]["traits"] == {"plan": "gold"}
    assert len(await _pii_reads(api)) == before


@pytest.mark.parametrize("stored_as", ["ObjectId", "string"])
async def test_journey_pages_through_events_of_one_instant_whatever_type_their_ids_are(
    api: Api, stored_as: str
) -> None:
    await _track(api, [track("product_viewed", user_id="u1", anonymous_id=None)])
    profile_id = await _profile_id(api, userId="u1")
    template = await api.db["events"].find_one({"profile_id": profile_id})
    await api.db["events"].delete_many({"profile_id": profile_id})
    at = template["timestamp"]
    for n in range(5):
        event_id = new_event_id() if stored_as == "ObjectId" else f"evt_{n:03d}"
        await api.db["events"].insert_one(
            {
                **template,
                "_id": ObjectId(event_id) if stored_as == "ObjectId" else event_id,
                "message_id": f"m{n}",
                "timestamp": at,
            }
        )
    query = """query($id: ID!, $after: String) { journey(profileId: $id, first: 2, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = (await api.gql(query, {"id": profile_id, "after": after}))["data"]["journey"]
        seen += [e["node"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert (len(seen), len(set(seen)), page["pageInfo"]["hasNextPage"]) == (5, 5, False)
