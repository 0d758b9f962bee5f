"""What a customer token may do: see and change its own customer, and nobody else."""

from typing import Any

from tests.conftest import Api
from tests.factories import track
from tests.graphql.test_track_events import TRACK
from tests.graphql.test_triggers import DEFINE

ME = """{ me { profileId phase intentScore affinities { key weight } nextBestAction
  consent { purpose granted source } consentHistory { purpose granted source } } }"""
SET_MY_CONSENT = """mutation($purpose: Purpose!, $granted: Boolean!) {
  setMyConsent(purpose: $purpose, granted: $granted) { consent { purpose granted source }
  consentHistory { purpose granted source } } }"""


async def _as_customer(api: Api, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    return await api.gql(query, variables, key=token)


async def _send(api: Api, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = await api.gql(TRACK, {"events": events})
    result: dict[str, Any] = body["data"]["trackEvents"]
    return result


async def test_me_answers_about_the_tokens_customer_only(api: Api) -> None:
    await _send(api, [track("checkout_started", user_id="alice"), track("product_viewed", user_id="bob")])
    token = await api.customer_token("alice")
    me = (await _as_customer(api, token, ME))["data"]["me"]
    alice = (await api.gql('{ profile(userId: "alice") { id } }'))["data"]["profile"]
    assert me["profileId"] == alice["id"]
    assert me["phase"] == "INTENT"


async def test_me_shows_no_scores_without_personalization_consent(api: Api) -> None:
    await _send(api, [track("checkout_started", user_id="alice", consent={"analytics": True})])
    me = (await _as_customer(api, await api.customer_token("alice"), ME))["data"]["me"]
    assert (me["phase"], me["intentScore"], me["affinities"]) == (None, None, [])


async def test_me_suggests_the_action_of_the_trigger_the_journey_reached(api: Api) -> None:
    await api.gql(DEFINE, {"url": "https://hooks.example.com/granular"})
    await _send(api, [track("checkout_started", user_id="alice")])
    me = (await _as_customer(api, await api.customer_token("alice"), ME))["data"]["me"]
    assert me["nextBestAction"] == "abandoned-checkout"


async def test_a_customer_token_cannot_read_profiles(api: Api) -> None:
    await _send(api, [track(user_id="bob")])
    body = await _as_customer(api, await api.customer_token("alice"), '{ profile(userId: "bob") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] == {"profile": None}


async def test_an_api_key_has_no_me(api: Api) -> None:
    body = await api.gql(ME)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_my_consent_change_is_in_the_ledger_with_source_customer(api: Api) -> None:
    await _send(api, [track(user_id="alice")])
    token = await api.customer_token("alice")
    me = await _as_customer(api, token, SET_MY_CONSENT, {"purpose": "PERSONALIZATION", "granted": False})
    state = me["data"]["setMyConsent"]
    assert {"purpose": "PERSONALIZATION", "granted": False, "source": "CUSTOMER"} in state["consent"]
    assert state["consentHistory"][-1] == {
        "purpose": "PERSONALIZATION",
        "granted": False,
        "source": "CUSTOMER",
    }
    entry = await api.db["consent_ledger"].find_one({"source": "customer"})
    assert (entry["purpose"], entry["granted"]) == ("personalization", False)


async def test_my_withdrawal_hides_my_scores_at_once(api: Api) -> None:
    await _send(api, [track("checkout_started", user_id="alice")])
    token = await api.customer_token("alice")
    await _as_customer(api, token, SET_MY_CONSENT, {"purpose": "PERSONALIZATION", "granted": False})
    profile = (await api.gql('{ profile(userId: "alice") { intentScore } }'))["data"]["profile"]
    assert profile == {"intentScore": None}


async def test_a_new_customer_can_decide_before_any_event(api: Api) -> None:
    token = await api.customer_token("newcomer")
    body = await _as_customer(api, token, SET_MY_CONSENT, {"purpose": "ANALYTICS", "granted": True})
    assert body["data"]["setMyConsent"]["consent"] == [
        {"purpose": "ANALYTICS", "granted": True, "source": "CUSTOMER"}
    ]


async def test_me_says_what_an_undecided_purpose_means_in_the_workspace(api: Api) -> None:
    token = await api.customer_token("newcomer")
    assert (await _as_customer(api, token, "{ me { consentMode } }"))["data"]["me"] == {
        "consentMode": "OPT_IN"
    }
    await api.gql("mutation { updateWorkspaceSettings(input: {consentMode: OPT_OUT}) { consentMode } }")
    assert (await _as_customer(api, token, "{ me { consentMode } }"))["data"]["me"] == {
        "consentMode": "OPT_OUT"
    }


async def test_necessary_processing_cannot_be_switched_off(api: Api) -> None:
    token = await api.customer_token("alice")
    body = await _as_customer(api, token, SET_MY_CONSENT, {"purpose": "NECESSARY", "granted": False})
    error = body["errors"][0]["extensions"]
    assert (error["code"], error["field"]) == ("NOT_OPTIONAL", "purpose")
    assert await api.db["consent_ledger"].count_documents({}) == 0


async def test_my_erasure_completes_and_suppresses_my_later_events(api: Api) -> None:
    await _send(api, [track(user_id="alice"), track(user_id="bob", anonymous_id="anon-bob")])
    token = await api.customer_token("alice")
    body = await _as_customer(api, token, "mutation { requestMyErasure { status kind } }")
    assert body["data"]["requestMyErasure"] == {"status": "COMPLETED", "kind": "ERASURE"}
    assert await api.db["profiles"].count_documents({"user_id": "alice"}) == 0
    assert await api.db["profiles"].count_documents({"user_id": "bob"}) == 1
    assert (await _send(api, [track(user_id="alice")]))["suppressed"] == 1


async def test_my_erasure_is_tracked_like_a_staff_request(api: Api) -> None:
    await _send(api, [track(user_id="alice")])
    await _as_customer(api, await api.customer_token("alice"), "mutation { requestMyErasure { id } }")
    body = await api.gql("{ dsrRequests { edges { node { kind status regulation } } } }")
    assert body["data"]["dsrRequests"]["edges"] == [
        {"node": {"kind": "ERASURE", "status": "COMPLETED", "regulation": "GDPR"}}
    ]


async def test_my_export_is_downloadable_once(api: Api) -> None:
    await _send(api, [track(user_id="alice")])
    token = await api.customer_token("alice")
    body = await _as_customer(
        api, token, "mutation { requestMyExport(regulation: CCPA) { status downloadUrl } }"
    )
    url = body["data"]["requestMyExport"]["downloadUrl"]
    first = await api.http.get(url)
    assert first.status_code == 200
    assert [p["userId"] for p in first.json()["profiles"]] == ["alice"]
    assert (await api.http.get(url)).status_code == 404
