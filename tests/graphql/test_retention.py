import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.domain.access import Principal, Role
from server.domain.retention import DataKind
from server.domain.scoring import ScoredEvent, recompute
from server.domain.taxonomy import Phase
from server.domain.workspace import DEFAULT_WORKSPACE
from server.storage.profiles import Profiles
from server.wiring import Services
from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

SET = "mutation($kind: DataKind!, $days: Int!) { setRetention(kind: $kind, days: $days) { kind days restamped } }"
REPORT = (
    """{ retentionReport { kind collection retentionDays documents expiringWithin30Days oldestAgeDays } }"""
)
EXPORT = "mutation($s: SubjectInput!) { requestExport(subject: $s, regulation: GDPR) { id } }"
ADMIN = Principal(workspace_id=DEFAULT_WORKSPACE, role=Role.ADMIN, key_id="test")
HALF_LIFE = timedelta(days=7)
# SecantusDB's TTL monitor passes every 60 s whatever its config says (see conftest), mongod's too.
TTL_DEADLINE_SECONDS = 90


def _services(api: Api) -> Services:
    services: Services = api.app.state.services
    return services


async def _track(api: Api, *events: dict[str, Any]) -> None:
    body = await api.gql(TRACK, {"events": list(events)})
    assert body["data"]["trackEvents"]["accepted"] == len(events), body


async def _one_of_each(api: Api) -> None:
    """An event, a profile, consent ledger entries, a DSR request and audit entries."""
    await _track(api, track("product_viewed", user_id="u-1", at=ago(days=3)))
    await api.gql(EXPORT, {"s": {"userId": "u-1"}})


async def _report(api: Api, key: str | None = None) -> dict[str, dict[str, Any]]:
    body = await api.gql(REPORT, **({"key": key} if key else {}))
    assert "errors" not in body, body
    return {row["kind"]: row for row in body["data"]["retentionReport"]}


@pytest.mark.parametrize(
    ("collection", "basis", "days"),
    [
        ("events", "timestamp", 395),
        ("profiles", "last_active", 760),
        ("consent_ledger", "at", 1826),
        ("dsr_requests", "received_at", 1096),
        ("audit_log", "at", 731),
    ],
)
async def test_every_retained_document_is_stamped_with_its_expiry_when_written(
    api: Api, collection: str, basis: str, days: int
) -> None:
    await _one_of_each(api)
    docs = [doc async for doc in api.db[collection].find({})]
    assert docs
    assert [doc["expireAt"] - doc[basis] for doc in docs] == [timedelta(days=days)] * len(docs)


async def test_a_profile_is_restamped_from_its_newest_message_whenever_it_is_written(api: Api) -> None:
    newest = ago(days=2)
    await _track(api, track(anonymous_id="a", at=ago(days=9)))
    await _track(api, track(anonymous_id="a", at=newest))
    await _track(api, track(anonymous_id="a", at=ago(days=5)))  # late: the profile was seen since
    profile = await api.db["profiles"].find_one({})
    assert profile["expireAt"] == newest.replace(microsecond=newest.microsecond // 1000 * 1000) + timedelta(
        days=760
    )


async def test_a_changed_period_applies_to_what_is_written_next(api: Api) -> None:
    await api.gql(SET, {"kind": "EVENTS", "days": 30})
    await _track(api, track(at=ago(days=2)))
    event = await api.db["events"].find_one({})
    assert event["expireAt"] - event["timestamp"] == timedelta(days=30)


async def test_changing_a_period_restamps_stored_documents_in_bounded_batches(api: Api) -> None:
    await _track(api, *[track(anonymous_id=f"a-{n}", at=ago(days=n + 1)) for n in range(5)])
    change = await _services(api).retention.set_days(ADMIN, DataKind.EVENTS, 30, batch_size=2)
    assert (change.restamped, change.batches) == (5, 3)
    stamps = [doc["expireAt"] - doc["timestamp"] async for doc in api.db["events"].find({})]
    assert stamps == [timedelta(days=30)] * 5


async def test_setting_the_same_period_again_restamps_again(api: Api) -> None:
    await _track(api, track(at=ago(days=2)))
    await api.db["events"].update_many({}, {"$unset": {"expireAt": ""}})  # as written before retention
    body = await api.gql(SET, {"kind": "EVENTS", "days": 395})
    assert body["data"]["setRetention"] == {"kind": "EVENTS", "days": 395, "restamped": 1}
    event = await api.db["events"].find_one({})
    assert event["expireAt"] - event["timestamp"] == timedelta(days=395)


async def test_a_retention_change_is_audited(api: Api) -> None:
    await api.gql(SET, {"kind": "AUDIT_LOG", "days": 400})
    entry = await api.db["audit_log"].find_one({"action": "retention.changed"})
    assert entry["details"] == {"kind": "audit_log", "days": 400, "restamped": 0}
    assert entry["expireAt"] - entry["at"] == timedelta(days=400)


@pytest.mark.parametrize("days", [0, -1, 3654])
async def test_a_period_out_of_range_is_refused_naming_the_field_and_nothing_changes(
    api: Api, days: int
) -> None:
    body = await api.gql(SET, {"kind": "EVENTS", "days": days})
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "days"}
    assert (await _report(api))["EVENTS"]["retentionDays"] == 395


@pytest.mark.slow
async def test_the_database_deletes_a_document_once_its_expiry_has_passed(api: Api) -> None:
    await api.gql(SET, {"kind": "EVENTS", "days": 1})
    await _track(api, track(at=ago(days=1) + timedelta(seconds=15)), track(at=ago(hours=1)))
    deadline = time.monotonic() + TTL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if await api.db["events"].count_documents({}) < 2:
            break
        await asyncio.sleep(0.5)
    remaining = [doc["timestamp"] async for doc in api.db["events"].find({})]
    assert len(remaining) == 1, f"not expired within {TTL_DEADLINE_SECONDS} s"
    assert remaining[0] > ago(days=1)


async def _scored_events(api: Api, profile_id: str, after: datetime) -> list[ScoredEvent]:
    return [
        ScoredEvent(at=e["timestamp"], name=e["event"], value=e["value"], phase=Phase[e["phase"]])
        async for e in api.db["events"].find({"profile_id": profile_id, "timestamp": {"$gt": after}})
    ]


async def test_the_sweep_recomputes_scores_from_the_events_that_remain(api: Api) -> None:
    await _track(
        api,
        track("checkout_started", anonymous_id="a", at=ago(days=40)),
        track("product_added", anonymous_id="a", at=ago(days=20)),
        track("product_viewed", anonymous_id="a", at=ago(days=5)),
    )
    # 360 days on, the 40-day-old event is past its 395 days and the others are not.
    later = datetime.now(UTC) + timedelta(days=360)
    result = await _services(api).retention.sweep(later)
    profile = await Profiles(api.db).find_one(DEFAULT_WORKSPACE, {"anonymous_ids": "a"})
    assert profile is not None
    remaining = await _scored_events(api, profile.id, later - timedelta(days=395))
    assert [e.name for e in sorted(remaining, key=lambda e: e.at)] == ["product_added", "product_viewed"]
    assert result.rescored == 1
    assert profile.scores == recompute(remaining, HALF_LIFE)


async def test_the_sweep_visits_only_profiles_whose_counted_events_expired(api: Api) -> None:
    await _track(
        api,
        track(anonymous_id="old", at=ago(days=40)),
        track(anonymous_id="old", at=ago(days=5)),
        track(anonymous_id="recent", at=ago(days=5)),
    )
    later = datetime.now(UTC) + timedelta(days=360)
    retention = _services(api).retention
    assert (await retention.sweep(later)).rescored == 1
    assert (await retention.sweep(later)).rescored == 0


async def test_the_sweep_shreds_the_data_keys_of_profiles_that_expired(api: Api) -> None:
    identify = "mutation($input: IdentifyInput!) { identify(input: $input) { id } }"
    for user in ("gone", "kept"):
        await api.gql(identify, {"input": {"userId": user, "traits": {"email": f"{user}@example.com"}}})
    assert await api.db["data_keys"].count_documents({}) == 2
    await api.db["profiles"].delete_one({"user_id": "gone"})  # what the TTL monitor does at expiry
    result = await _services(api).retention.sweep(datetime.now(UTC))
    kept = await api.db["profiles"].find_one({"user_id": "kept"})
    assert result.keys_shredded == 1
    assert [doc["profile_id"] async for doc in api.db["data_keys"].find({})] == [kept["_id"]]


async def test_a_consent_chain_whose_oldest_entries_expired_still_verifies(api: Api) -> None:
    consent = "mutation($input: ConsentInput!) { setConsent(input: $input) { profileId } }"
    for granted in (True, False, True):
        await api.gql(consent, {"input": {"userId": "u-1", "purpose": "MARKETING_EMAIL", "granted": granted}})
    profile = await api.db["profiles"].find_one({"user_id": "u-1"})
    oldest = await api.db["consent_ledger"].find_one({}, sort=[("seq", 1)])
    await api.db["consent_ledger"].delete_one({"_id": oldest["_id"]})  # what the TTL monitor does
    assert await _services(api).consent.intact(ADMIN, [profile["_id"]])


async def test_an_event_already_past_its_retention_is_neither_stored_nor_scored(api: Api) -> None:
    await api.gql(SET, {"kind": "EVENTS", "days": 30})
    body = await api.gql(
        TRACK, {"events": [track(anonymous_id="a", at=ago(days=40)), track(anonymous_id="a", at=ago(days=2))]}
    )
    assert (body["data"]["trackEvents"]["accepted"], body["data"]["trackEvents"]["expired"]) == (1, 1)
    profile = await Profiles(api.db).find_one(DEFAULT_WORKSPACE, {"anonymous_ids": "a"})
    assert profile is not None
    assert await api.db["events"].count_documents({}) == 1
    assert profile.scores == recompute(await _scored_events(api, profile.id, ago(days=30)), HALF_LIFE)


async def test_the_report_counts_documents_what_expires_soon_and_the_oldest_age(api: Api) -> None:
    await _track(
        api,
        track(anonymous_id="a", at=ago(days=380, hours=1)),  # expires in about 15 days
        track(anonymous_id="a", at=ago(days=100)),
        track(anonymous_id="a", at=ago(days=1, hours=1)),
    )
    report = await _report(api)
    assert report["EVENTS"] == {
        "kind": "EVENTS",
        "collection": "events",
        "retentionDays": 395,
        "documents": 3,
        "expiringWithin30Days": 1,
        "oldestAgeDays": 380,
    }
    assert (report["PROFILES"]["documents"], report["PROFILES"]["oldestAgeDays"]) == (1, 1)
    assert report["DSR_REQUESTS"] == {
        "kind": "DSR_REQUESTS",
        "collection": "dsr_requests",
        "retentionDays": 1096,
        "documents": 0,
        "expiringWithin30Days": 0,
        "oldestAgeDays": None,
    }


async def test_the_report_shows_a_changed_period(api: Api) -> None:
    await api.gql(SET, {"kind": "CONSENT_LEDGER", "days": 2000})
    assert (await _report(api))["CONSENT_LEDGER"]["retentionDays"] == 2000


async def test_compliance_may_read_the_report_but_not_change_a_period(api: Api) -> None:
    compliance = await api.key("COMPLIANCE")
    assert set(await _report(api, compliance)) == {kind.name for kind in DataKind}
    body = await api.gql(SET, {"kind": "EVENTS", "days": 30}, key=compliance)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_analyst_may_not_read_the_report(api: Api) -> None:
    body = await api.gql(REPORT, key=await api.key("ANALYST"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
