import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from privacy.crypto import new_keyring
from server.domain.triggers import signature
from server.metrics import BACKGROUND_FAILURES
from server.storage.audiences import Audiences
from server.storage.profiles import of_doc
from server.wiring import Services
from tests.conftest import Api, CommandLog
from tests.factories import ALL_GRANTED, ago, iso, track
from tests.graphql.test_track_events import TRACK
from tests.graphql.test_triggers import Receiver, receiver  # noqa: F401 - the fixture
from tests.graphql.test_triggers import _service as trigger_service

DEFINE = """mutation($input: AudienceInput!) { defineAudience(input: $input) {
  audience { id name purpose rule definition size } webhookSecret } }"""
UPDATE = """mutation($id: ID!, $input: AudienceInput!) { updateAudience(id: $id, input: $input) {
  id name size } }"""
MEMBERS = """query($id: ID!, $first: Int!, $after: String) { audience(id: $id) { size
  members(first: $first, after: $after) { edges { cursor node { id userId } }
  pageInfo { hasNextPage endCursor } } } }"""
SET_CONSENT = "mutation($input: ConsentInput!) { setConsent(input: $input) { profileId } }"
HIGH_INTENT_SHOES = {
    "name": "high-intent shoe shoppers",
    "rule": {
        "all": [
            {"phase": ["INTENT"]},
            {"affinity": {"key": "category:shoes", "minWeight": 0.5}},
            {"intent": {"min": 0.5}},
        ]
    },
}


def _shopper(user_id: str, category: str = "shoes", at: datetime | None = None) -> list[dict[str, Any]]:
    at = at or ago(minutes=30)
    return [
        track("product_viewed", user_id=user_id, anonymous_id=None, at=at, properties={"category": category}),
        track("product_added", user_id=user_id, anonymous_id=None, at=at, properties={"category": category}),
        track(
            "checkout_started", user_id=user_id, anonymous_id=None, at=at, properties={"category": category}
        ),
    ]


async def _define(api: Api, definition: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    body = await api.gql(DEFINE, {"input": definition}, **({"key": key} if key else {}))
    assert "errors" not in body, body
    audience: dict[str, Any] = body["data"]["defineAudience"]["audience"]
    return audience


async def _members(api: Api, audience_id: str, key: str | None = None) -> list[str]:
    body = await api.gql(MEMBERS, {"id": audience_id, "first": 100}, **({"key": key} if key else {}))
    return sorted(e["node"]["userId"] for e in body["data"]["audience"]["members"]["edges"])


async def test_ingested_shoppers_enter_the_audience_they_match(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    assert audience["definition"] == (
        "(phase is INTENT and affinity for category:shoes at least 0.5 and intent at least 0.5)"
    )
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben", "hats")]})
    assert await _members(api, audience["id"]) == ["ana"]


async def test_a_definition_counts_the_profiles_already_there(api: Api) -> None:
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("cy")]})
    assert (await _define(api, HIGH_INTENT_SHOES))["size"] == 2


async def test_a_bad_rule_is_refused_with_a_code_naming_the_field(api: Api) -> None:
    body = await api.gql(
        DEFINE, {"input": {"name": "x", "rule": {"all": [{"intent": {"min": 0.9, "max": 0.1}}]}}}
    )
    assert body["errors"][0]["extensions"] == {"code": "EMPTY_RANGE", "field": "rule.all[0].intent"}
    assert await api.db["audiences"].count_documents({}) == 0


async def test_two_conditions_in_one_rule_object_are_refused(api: Api) -> None:
    body = await api.gql(
        DEFINE, {"input": {"name": "x", "rule": {"phase": ["INTENT"], "consent": "ADVERTISING"}}}
    )
    assert body["errors"][0]["extensions"] == {"code": "ONE_CONDITION", "field": "rule"}


async def test_a_personal_trait_is_refused(api: Api) -> None:
    body = await api.gql(DEFINE, {"input": {"name": "x", "rule": {"trait": {"name": "email", "value": "a"}}}})
    assert body["errors"][0]["extensions"] == {"code": "PERSONAL_TRAIT", "field": "rule.trait.name"}


async def test_a_workspace_holds_at_most_max_audiences(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.services.audiences.MAX_AUDIENCES", 2)
    for _ in range(2):
        await _define(api, HIGH_INTENT_SHOES)
    body = await api.gql(DEFINE, {"input": HIGH_INTENT_SHOES})
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_AUDIENCES"


async def test_personalization_keys_read_audiences_but_may_not_define_them(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": _shopper("ana")})
    engine = await api.key("PERSONALIZATION")
    assert await _members(api, audience["id"], key=engine) == ["ana"]
    body = await api.gql(DEFINE, {"input": HIGH_INTENT_SHOES}, key=engine)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    analyst = await api.key("ANALYST")
    assert (await _define(api, HIGH_INTENT_SHOES, key=analyst))["size"] == 1


async def test_withdrawing_personalization_leaves_every_audience_at_once(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": _shopper("ana")})
    await api.gql(SET_CONSENT, {"input": {"userId": "ana", "purpose": "PERSONALIZATION", "granted": False}})
    assert await _members(api, audience["id"]) == []
    history = await api.db["audience_changes"].find({}, {"_id": 0, "delta": 1}).to_list()
    assert [h["delta"] for h in history] == [1, -1]


async def test_an_audience_for_email_needs_email_consent_too(api: Api) -> None:
    audience = await _define(api, {**HIGH_INTENT_SHOES, "purpose": "MARKETING_EMAIL"})
    no_email = {**ALL_GRANTED, "marketing_email": False}
    events = _shopper("ana") + [
        {**e, "context": {"consent": {"categoryPreferences": no_email}}} for e in _shopper("ben")
    ]
    await api.gql(TRACK, {"events": events})
    assert await _members(api, audience["id"]) == ["ana"]


async def test_a_member_leaves_when_the_score_decays_below_the_threshold(api: Api) -> None:
    audience = await _define(api, {"name": "engaged", "rule": {"engagement": {"min": 1.0}}})
    await api.gql(TRACK, {"events": _shopper("ana")})
    assert await _members(api, audience["id"]) == ["ana"]
    later = datetime.now(UTC) + timedelta(days=30)  # four half-lives: 1.65 decays to ~0.1
    # The pass as a process whose clock reads a month later runs it (it reads no personal data).
    await Services.build(api.db, new_keyring(), clock=lambda: later).audiences.run_once()
    assert await _members(api, audience["id"]) == []


async def test_did_event_counts_events_within_the_window(api: Api) -> None:
    audience = await _define(
        api,
        {
            "name": "browsers",
            "rule": {"didEvent": {"event": "product_viewed", "atLeast": 2, "withinDays": 7}},
        },
    )
    await api.gql(
        TRACK,
        {
            "events": [
                track("product_viewed", user_id="ana", anonymous_id=None, at=ago(days=1)),
                track("product_viewed", user_id="ana", anonymous_id=None, at=ago(days=2)),
                track("product_viewed", user_id="ben", anonymous_id=None, at=ago(days=1)),
                track("product_viewed", user_id="ben", anonymous_id=None, at=ago(days=20)),
            ]
        },
    )
    assert await _members(api, audience["id"]) == ["ana"]


async def test_a_trait_condition_matches_non_personal_traits(api: Api) -> None:
    audience = await _define(api, {"name": "gold", "rule": {"trait": {"name": "plan", "value": "gold"}}})
    identify = "mutation($input: IdentifyInput!) { identify(input: $input) { id } }"
    for user, plan in (("ana", "gold"), ("ben", "silver")):
        await api.gql(TRACK, {"events": [track(user_id=user, anonymous_id=None)]})
        await api.gql(identify, {"input": {"userId": user, "traits": {"plan": plan}}})
    assert await _members(api, audience["id"]) == ["ana"]


async def test_an_update_re_evaluates_the_members(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben", "hats")]})
    rule = {"affinity": {"key": "category:hats", "minWeight": 0.5}}
    body = await api.gql(UPDATE, {"id": audience["id"], "input": {"name": "hats", "rule": rule}})
    assert body["data"]["updateAudience"] == {"id": audience["id"], "name": "hats", "size": 1}
    assert await _members(api, audience["id"]) == ["ben"]


async def test_deleting_an_audience_removes_its_members_and_history(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": _shopper("ana")})
    body = await api.gql("mutation($id: ID!) { deleteAudience(id: $id) }", {"id": audience["id"]})
    assert body["data"]["deleteAudience"] is True
    for name in ("audiences", "audience_members", "audience_changes"):
        assert await api.db[name].count_documents({}) == 0
    body = await api.gql("mutation($id: ID!) { deleteAudience(id: $id) }", {"id": audience["id"]})
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}


async def test_members_page_in_profile_id_order(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [e for user in ("a", "b", "c") for e in _shopper(user)]})
    seen: list[str] = []
    after = None
    while True:
        body = await api.gql(MEMBERS, {"id": audience["id"], "first": 2, "after": after})
        members = body["data"]["audience"]["members"]
        seen += [e["node"]["id"] for e in members["edges"]]
        if not members["pageInfo"]["hasNextPage"]:
            break
        after = members["pageInfo"]["endCursor"]
    assert len(seen) == 3
    assert seen == sorted(seen)
    body = await api.gql(MEMBERS, {"id": audience["id"], "first": 501})
    assert body["errors"][0]["extensions"]["code"] == "PAGE_TOO_LARGE"


async def test_profiles_filter_by_audience_and_profile_lists_its_audiences(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben", "hats")]})
    body = await api.gql(
        """query($id: ID!) { profiles(filter: {audience: $id}) { edges { node { userId
           audiences { id name } } } } }""",
        {"id": audience["id"]},
    )
    edges = body["data"]["profiles"]["edges"]
    assert [e["node"]["userId"] for e in edges] == ["ana"]
    assert edges[0]["node"]["audiences"] == [{"id": audience["id"], "name": "high-intent shoe shoppers"}]
    body = await api.gql(
        'query($id: ID!) { profiles(filter: {audience: $id, userId: "ana"}) { edges { cursor } } }',
        {"id": audience["id"]},
    )
    assert body["errors"][0]["extensions"] == {"code": "UNSUPPORTED_FILTER", "field": "filter.audience"}


async def test_profile_audiences_of_a_page_load_in_one_query(api: Api, commands: CommandLog) -> None:
    await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [e for user in ("a", "b", "c", "d") for e in _shopper(user)]})
    commands.seen.clear()
    body = await api.gql("{ profiles(first: 10) { edges { node { audiences { id size } } } } }")
    assert all(e["node"]["audiences"][0]["size"] == 4 for e in body["data"]["profiles"]["edges"])
    sent = commands.sent_to(api.db.name)
    assert sent.count(("find", "audience_members")) == 1
    assert sent.count(("aggregate", "audience_members")) == 1  # the one audience counted once


async def test_an_ingest_unit_reads_memberships_with_one_query(api: Api, commands: CommandLog) -> None:
    await _define(api, HIGH_INTENT_SHOES)
    commands.seen.clear()
    await api.gql(TRACK, {"events": [e for user in range(10) for e in _shopper(f"u{user}")]})
    sent = commands.sent_to(api.db.name)
    assert sent.count(("find", "audience_members")) == 1
    assert sent.count(("bulkWrite", "audience_members")) + sent.count(("insert", "audience_members")) <= 1
    assert await api.db["audience_members"].count_documents({}) == 10


async def test_size_history_gives_the_size_at_the_end_of_each_day(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben")]})
    await api.gql(SET_CONSENT, {"input": {"userId": "ben", "purpose": "PERSONALIZATION", "granted": False}})
    today = datetime.now(UTC)
    body = await api.gql(
        "query($id: ID!, $from: DateTime!, $to: DateTime!) { audienceSizeHistory(id: $id, from: $from, to: $to)"
        " { day size } }",
        {"id": audience["id"], "from": iso(today - timedelta(days=2)), "to": iso(today)},
    )
    assert [p["size"] for p in body["data"]["audienceSizeHistory"]] == [0, 0, 1]
    body = await api.gql(
        "query($id: ID!, $from: DateTime!, $to: DateTime!) { audienceSizeHistory(id: $id, from: $from, to: $to)"
        " { day } }",
        {"id": audience["id"], "from": iso(today - timedelta(days=400)), "to": iso(today)},
    )
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "to"}


async def test_another_workspaces_audience_answers_like_none(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    other = await api.key_in("other-workspace", "ANALYST")
    body = await api.gql(MEMBERS, {"id": audience["id"], "first": 10}, key=other)
    assert body["data"]["audience"] is None


async def test_erasure_removes_every_trace_of_membership(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben")]})
    ana = (await api.db["profiles"].find_one({"user_id": "ana"}))["_id"]
    erase = """mutation { requestErasure(subject: {userId: "ana"}, regulation: GDPR) { status } }"""
    assert (await api.gql(erase))["data"]["requestErasure"]["status"] == "COMPLETED"
    for name in ("audience_members", "audience_changes"):
        assert await api.db[name].count_documents({"profile_id": ana}) == 0
        assert ana not in str(await api.db[name].find({}).to_list())
    assert await _members(api, audience["id"]) == ["ben"]


async def test_an_upkeep_that_runs_after_the_erasure_does_not_bring_the_member_back(api: Api) -> None:
    await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": _shopper("ana")})
    doc = await api.db["profiles"].find_one({"user_id": "ana"})
    erase = """mutation { requestErasure(subject: {userId: "ana"}, regulation: GDPR) { status } }"""
    assert (await api.gql(erase))["data"]["requestErasure"]["status"] == "COMPLETED"
    # The upkeep of a unit that committed just before the erasure, running just after it.
    await api.app.state.services.audiences.after_ingest(doc["workspace_id"], [of_doc(doc)])
    for name in ("audience_members", "audience_changes"):
        assert await api.db[name].count_documents({"profile_id": doc["_id"]}) == 0


async def test_the_background_pass_forgets_members_whose_profile_is_gone(api: Api) -> None:
    audience = await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": [*_shopper("ana"), *_shopper("ben")]})
    ana = await api.db["profiles"].find_one({"user_id": "ana"})
    await api.db["profiles"].delete_one({"_id": ana["_id"]})  # as if expired, or erased mid-upkeep
    await api.app.state.services.audiences.run_once()
    for name in ("audience_members", "audience_changes"):
        assert await api.db[name].count_documents({"profile_id": ana["_id"]}) == 0
    assert await _members(api, audience["id"]) == ["ben"]


async def test_an_export_includes_memberships_and_their_history(api: Api) -> None:
    await _define(api, HIGH_INTENT_SHOES)
    await api.gql(TRACK, {"events": _shopper("ana")})
    export = """mutation { requestExport(subject: {userId: "ana"}, regulation: GDPR) { downloadUrl } }"""
    path = (await api.gql(export))["data"]["requestExport"]["downloadUrl"].removeprefix("http://testserver")
    document = json.loads((await api.http.get(path)).text)
    audiences = document["profiles"][0]["audiences"]
    assert [m["audience"] for m in audiences["memberships"]] == ["high-intent shoe shoppers"]
    assert [h["change"] for h in audiences["history"]] == ["ENTERED"]


async def test_fitting_models_re_evaluates_audiences_that_read_them(api: Api) -> None:
    audience = await _define(api, {"name": "buyers", "rule": {"ltv": {"measure": "ORDERS", "min": 1}}})
    order = track("order_completed", user_id="ana", anonymous_id=None, properties={"revenue": 30})
    await api.gql(TRACK, {"events": [order]})
    assert await _members(api, audience["id"]) == ["ana"]
    await api.db["audience_members"].delete_many({})  # as if a pass had been missed
    await api.gql("mutation { fitModels { durationMs } }")
    assert await _members(api, audience["id"]) == ["ana"]


async def test_failed_upkeep_never_fails_the_ingest_and_is_counted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _define(api, HIGH_INTENT_SHOES)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(Audiences, "memberships_of", broken)
    failures = BACKGROUND_FAILURES.labels("audiences", "RuntimeError")
    before = failures._value.get()
    body = await api.gql(TRACK, {"events": _shopper("ana")})
    assert body["data"]["trackEvents"]["accepted"] == 3
    assert failures._value.get() == before + 1


async def test_entries_and_exits_are_sent_as_signed_webhooks_with_ids_only(
    api: Api,
    receiver: Receiver,  # noqa: F811 - the fixture imported from the triggers tests
) -> None:
    body = await api.gql(DEFINE, {"input": {**HIGH_INTENT_SHOES, "webhookUrl": receiver.url}})
    created = body["data"]["defineAudience"]
    secret, audience_id = created["webhookSecret"], created["audience"]["id"]
    await api.gql(TRACK, {"events": _shopper("ana")})
    await api.gql(SET_CONSENT, {"input": {"userId": "ana", "purpose": "PERSONALIZATION", "granted": False}})
    now = datetime.now(UTC)
    await trigger_service(api, now).run_once()  # the receiver fails the first one
    await trigger_service(api, now + timedelta(minutes=1)).run_once()  # retried after the back-off
    delivered = [json.loads(body) for _, body in receiver.received]
    ana = (await api.db["profiles"].find_one({"user_id": "ana"}))["_id"]
    assert sorted((d["change"], d["profileId"], d["audience"]) for d in delivered[1:]) == [
        ("ENTERED", ana, audience_id),
        ("EXITED", ana, audience_id),
    ]
    assert set(delivered[0]) == {"audience", "change", "profileId", "at"}
    headers, raw = receiver.received[-1]
    expected = signature(secret, headers["x-granular-timestamp"], raw)
    assert headers["x-granular-signature"] == f"sha256={expected}"


async def test_a_webhook_url_must_be_http(api: Api) -> None:
    body = await api.gql(DEFINE, {"input": {**HIGH_INTENT_SHOES, "webhookUrl": "file:///etc/passwd"}})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_URL", "field": "webhookUrl"}
