from server.domain.access import Principal, Role
from tests.conftest import Api
from tests.graphql.test_consent import SET_CONSENT

VERIFY = """query($id: ID!) { verifyConsentLedger(profileId: $id) { intact chains entries brokenChains
  firstBroken { profileId seq index reason } } }"""


async def _decisions(api: Api, user_id: str = "u1") -> str:
    for purpose, granted in (("ANALYTICS", True), ("ADVERTISING", True), ("ANALYTICS", False)):
        body = await api.gql(
            SET_CONSENT, {"input": {"userId": user_id, "purpose": purpose, "granted": granted}}
        )
    profile_id: str = body["data"]["setConsent"]["profileId"]
    return profile_id


async def test_an_untouched_ledger_verifies_intact(api: Api) -> None:
    profile_id = await _decisions(api)
    body = await api.gql(VERIFY, {"id": profile_id})
    assert body["data"]["verifyConsentLedger"] == {
        "intact": True,
        "chains": 1,
        "entries": 3,
        "brokenChains": 0,
        "firstBroken": None,
    }


async def test_an_altered_entry_is_reported_with_its_seq_and_why(api: Api) -> None:
    profile_id = await _decisions(api)
    stored = [e async for e in api.db["consent_ledger"].find({"profile_id": profile_id}).sort("seq", 1)]
    await api.db["consent_ledger"].update_one({"_id": stored[1]["_id"]}, {"$set": {"granted": False}})
    found = (await api.gql(VERIFY, {"id": profile_id}))["data"]["verifyConsentLedger"]
    assert (found["intact"], found["brokenChains"]) == (False, 1)
    assert found["firstBroken"] == {
        "profileId": profile_id,
        "seq": stored[1]["seq"],
        "index": 1,
        "reason": "HASH_MISMATCH",
    }


async def test_a_removed_entry_breaks_the_link_of_the_next(api: Api) -> None:
    profile_id = await _decisions(api)
    stored = [e async for e in api.db["consent_ledger"].find({"profile_id": profile_id}).sort("seq", 1)]
    await api.db["consent_ledger"].delete_one({"_id": stored[1]["_id"]})
    found = (await api.gql(VERIFY, {"id": profile_id}))["data"]["verifyConsentLedger"]
    assert found["firstBroken"] == {
        "profileId": profile_id,
        "seq": stored[2]["seq"],
        "index": 1,
        "reason": "PREVIOUS_HASH_MISMATCH",
    }


async def test_an_unknown_profile_answers_null(api: Api) -> None:
    body = await api.gql(VERIFY, {"id": "prf_does_not_exist"})
    assert body["data"]["verifyConsentLedger"] is None


async def test_another_workspaces_profile_answers_like_an_unknown_one(api: Api) -> None:
    profile_id = await _decisions(api)
    other = await api.key_in("elsewhere", "COMPLIANCE")
    body = await api.gql(VERIFY, {"id": profile_id}, key=other)
    assert body["data"]["verifyConsentLedger"] is None


async def test_the_whole_workspace_is_verified_chain_by_chain_with_progress(api: Api) -> None:
    first = await _decisions(api, "u1")
    await _decisions(api, "u2")
    await api.db["consent_ledger"].update_one(
        {"profile_id": first, "seq": {"$gte": 0}}, {"$set": {"source": "gpc"}}
    )
    seen: list[tuple[int, int]] = []
    found = await api.app.state.services.consent.verify_all(
        Principal("default", Role.COMPLIANCE, "test"), lambda done, total: seen.append((done, total))
    )
    assert (found.chains, found.entries, found.broken_chains) == (2, 6, 1)
    assert found.broken.profile_id == first
    assert seen == [(0, 2), (2, 2)]
