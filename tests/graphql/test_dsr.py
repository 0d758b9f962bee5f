import json
from typing import Any

from tests.conftest import ADMIN_KEY, Api
from tests.factories import ALL_GRANTED, track
from tests.graphql.test_track_events import TRACK

EMAIL, PHONE, USER = "Ana.Subject@Example.com", "+44 20 7946 0958", "user-ana"
IDENTIFY = "mutation($input: IdentifyInput!) { identify(input: $input) { id } }"
ERASE = """mutation($subject: SubjectInput!) { requestErasure(subject: $subject, regulation: GDPR) {
  id kind status deadline receivedAt completedAt result error } }"""
EXPORT = """mutation($subject: SubjectInput!) { requestExport(subject: $subject, regulation: CCPA) {
  id kind status downloadUrl result } }"""
SET_CONSENT = "mutation($input: ConsentInput!) { setConsent(input: $input) { profileId } }"


async def _subject(api: Api) -> list[str]:
    """A customer on two devices, identified with e-mail and phone, merged, with consent history."""
    await api.gql(TRACK, {"events": [track("product_viewed", anonymous_id="ana-phone")]})
    await api.gql(TRACK, {"events": [track("product_added", user_id=USER, anonymous_id="ana-laptop")]})
    await api.gql(
        IDENTIFY, {"input": {"userId": USER, "traits": {"email": EMAIL, "phone": PHONE, "plan": "gold"}}}
    )
    await api.gql(
        TRACK, {"events": [track("checkout_started", user_id=USER, anonymous_id="ana-phone", consent=None)]}
    )
    await api.gql(SET_CONSENT, {"input": {"userId": USER, "purpose": "MARKETING_SMS", "granted": False}})
    await api.gql(TRACK, {"events": [track("order_completed", user_id=USER, properties={"revenue": 42})]})
    return [doc["_id"] async for doc in api.db["profiles"].find({})]


async def _everything(api: Api) -> str:
    dump = []
    for name in await api.db.list_collection_names():
        dump.extend([doc async for doc in api.db[name].find({})])
    return str(dump)


async def test_export_holds_profile_decrypted_traits_consent_history_and_events(api: Api) -> None:
    await _subject(api)
    compliance = await api.key("COMPLIANCE")
    body = await api.gql(EXPORT, {"subject": {"email": " ana.subject@example.com"}}, key=compliance)
    request = body["data"]["requestExport"]
    assert (request["kind"], request["status"]) == ("EXPORT", "COMPLETED")
    path = request["downloadUrl"].removeprefix("http://testserver")
    response = await api.http.get(path)
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.text)
    assert document["found"] is True
    traits = {k: v for p in document["profiles"] for k, v in p["traits"].items()}
    assert (traits["email"], traits["phone"], traits["plan"]) == (EMAIL, PHONE, "gold")
    assert sorted(e["event"] for e in document["events"]) == [
        "checkout_started",
        "order_completed",
        "product_added",
        "product_viewed",
    ]
    assert {"purpose": "marketing_sms", "granted": False} in [
        {"purpose": c["purpose"], "granted": c["granted"]} for c in document["consentHistory"]
    ]


async def test_an_export_link_works_once(api: Api) -> None:
    await _subject(api)
    body = await api.gql(EXPORT, {"subject": {"userId": USER}})
    path = body["data"]["requestExport"]["downloadUrl"].removeprefix("http://testserver")
    assert (await api.http.get(path)).status_code == 200
    again = await api.http.get(path)
    assert again.status_code == 404
    assert again.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_exporting_an_unknown_subject_says_there_is_no_data(api: Api) -> None:
    body = await api.gql(EXPORT, {"subject": {"email": "nobody@example.com"}})
    request = body["data"]["requestExport"]
    assert request["result"]["found"] is False
    document = (await api.http.get(request["downloadUrl"].removeprefix("http://testserver"))).json()
    assert (document["found"], document["profiles"], document["events"]) == (False, [], [])


async def test_erasure_leaves_no_trace_of_the_subject_in_any_collection(api: Api) -> None:
    profile_ids = await _subject(api)
    assert len(profile_ids) == 2
    stored = await api.db["profiles"].find_one({"user_id": USER})
    blind_indexes = stored["blind_index"]
    compliance = await api.key("COMPLIANCE")
    await api.gql("query($id: ID) { profile(id: $id) { traits } }", {"id": stored["_id"]}, key=compliance)

    body = await api.gql(ERASE, {"subject": {"phone": "0044 20 7946 0958"}}, key=compliance)
    request = body["data"]["requestErasure"]
    assert (request["kind"], request["status"], request["error"]) == ("ERASURE", "COMPLETED", None)
    deleted = request["result"]["deleted"]
    assert deleted["events"] == 4
    assert deleted["profiles"] == 2
    assert deleted["data_keys"] == 1
    assert deleted["consent_ledger"] >= 6
    assert deleted["merges"] == 1

    everything = await _everything(api)
    for trace in [
        EMAIL,
        EMAIL.lower(),
        PHONE,
        "+442079460958",
        USER,
        "ana-phone",
        "ana-laptop",
        *blind_indexes,
        *profile_ids,
    ]:
        assert trace not in everything, trace
    reads = [e async for e in api.db["audit_log"].find({"action": "pii.read"})]
    assert reads
    assert all(e["profile_id"].startswith("erased:") for e in reads)


async def test_events_for_an_erased_subject_are_suppressed(api: Api) -> None:
    await _subject(api)
    await api.gql(ERASE, {"subject": {"userId": USER}})
    by_user = await api.gql(TRACK, {"events": [track(user_id=USER, anonymous_id=None)]})
    by_email = await api.gql(
        TRACK,
        {"events": [{**track(anonymous_id="new-device"), "traits": {"email": EMAIL.upper()}}]},
    )
    assert by_user["data"]["trackEvents"]["suppressed"] == 1
    assert by_email["data"]["trackEvents"]["suppressed"] == 1
    assert await api.db["events"].count_documents({}) == 0


async def test_erasure_is_idempotent(api: Api) -> None:
    await _subject(api)
    first = (await api.gql(ERASE, {"subject": {"userId": USER}}))["data"]["requestErasure"]
    second = (await api.gql(ERASE, {"subject": {"userId": USER}}))["data"]["requestErasure"]
    assert first["status"] == second["status"] == "COMPLETED"
    assert second["result"].get("profiles", 0) == 0


async def test_erasure_interrupted_by_a_database_failure_completes_when_asked_again(api: Api) -> None:
    profile_ids = await _subject(api)
    admin = api.db.client.admin
    await admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"skip": 2},
            "data": {"failCommands": ["delete"], "errorCode": 2, "appName": "granular"},
        }
    )
    try:
        failed = await api.http.post(
            "/graphql",
            json={"query": ERASE, "variables": {"subject": {"userId": USER}}},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
    finally:
        await admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "5")
    assert failed.json()["errors"][0]["extensions"]["code"] == "DB_UNAVAILABLE"
    pending = await api.db["dsr_requests"].find_one({})
    assert pending["status"] == "FAILED"
    assert await api.db["data_keys"].count_documents({}) == 0  # shredded before the failure

    resumed = (await api.gql(ERASE, {"subject": {"userId": USER}}))["data"]["requestErasure"]
    assert resumed["id"] == pending["_id"]
    assert resumed["status"] == "COMPLETED"
    everything = await _everything(api)
    assert all(pid not in everything for pid in profile_ids)
    assert USER not in everything


async def test_gdpr_and_ccpa_deadlines_are_30_and_45_days(api: Api) -> None:
    gdpr = (await api.gql(ERASE, {"subject": {"userId": "x"}}))["data"]["requestErasure"]
    ccpa = (await api.gql(EXPORT, {"subject": {"userId": "x"}}))["data"]["requestExport"]
    from datetime import datetime

    def days(r: dict[str, Any]) -> float:
        return (datetime.fromisoformat(r["deadline"]) - datetime.fromisoformat(r["receivedAt"])).days

    full = await api.gql(
        "query($id: ID!) { dsrRequest(id: $id) { deadline receivedAt } }", {"id": ccpa["id"]}
    )
    assert days(gdpr) == 30
    assert days(full["data"]["dsrRequest"]) == 45


async def test_opt_out_records_advertising_false_with_source_dsr(api: Api) -> None:
    await api.gql(TRACK, {"events": [track(user_id=USER, consent=ALL_GRANTED)]})
    body = await api.gql('mutation { optOut(subject: {userId: "user-ana"}) { kind status } }')
    assert body["data"]["optOut"] == {"kind": "OPT_OUT", "status": "COMPLETED"}
    profile = await api.db["profiles"].find_one({"user_id": USER})
    assert profile["consent"]["advertising"] == {
        **profile["consent"]["advertising"],
        "granted": False,
        "source": "dsr",
    }


async def test_dsr_queue_lists_requests_and_audit_log_records_them(api: Api) -> None:
    await api.gql(ERASE, {"subject": {"userId": "someone"}})
    queue = await api.gql("{ dsrRequests { edges { node { kind status overdue } } } }")
    assert queue["data"]["dsrRequests"]["edges"] == [
        {"node": {"kind": "ERASURE", "status": "COMPLETED", "overdue": False}}
    ]
    overdue = await api.gql("{ dsrRequests(overdue: true) { edges { cursor } } }")
    assert overdue["data"]["dsrRequests"]["edges"] == []
    audit = await api.gql('{ auditLog(action: "dsr.erasure.completed") { edges { node { action actor } } } }')
    assert [e["node"]["action"] for e in audit["data"]["auditLog"]["edges"]] == ["dsr.erasure.completed"]


async def test_analysts_cannot_run_data_subject_requests(api: Api) -> None:
    analyst = await api.key("ANALYST")
    body = await api.gql(ERASE, {"subject": {"userId": USER}}, key=analyst)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await api.db["dsr_requests"].count_documents({}) == 0


async def test_erasure_and_export_default_to_gdpr_like_the_customers_own_requests(api: Api) -> None:
    body = await api.gql(
        'mutation { e: requestExport(subject: {userId: "nobody"}) { regulation }'
        ' o: optOut(subject: {userId: "nobody"}) { regulation } }'
    )
    assert body["data"] == {"e": {"regulation": "GDPR"}, "o": {"regulation": "CCPA"}}


async def test_requests_are_listed_newest_first_across_pages(api: Api) -> None:
    created = [
        (await api.gql("mutation($u: String) { optOut(subject: {userId: $u}) { id } }", {"u": f"u{i}"}))[
            "data"
        ]["optOut"]["id"]
        for i in range(3)
    ]
    page = "query($after: String) { dsrRequests(first: 2, after: $after) { edges { node { id receivedAt } } pageInfo { hasNextPage endCursor } } }"
    first = (await api.gql(page))["data"]["dsrRequests"]
    second = (await api.gql(page, {"after": first["pageInfo"]["endCursor"]}))["data"]["dsrRequests"]
    listed = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert listed == created[::-1]
    assert (first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)
