from tests.conftest import ADMIN_KEY, Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

UPDATE = """mutation($input: WorkspaceSettingsInput!) { updateWorkspaceSettings(input: $input) {
  consentMode halfLifeDays minReportProfiles paidTouchesNeedAdvertising } }"""


async def test_opt_out_mode_collects_until_an_opt_out(api: Api) -> None:
    body = await api.gql(UPDATE, {"input": {"consentMode": "OPT_OUT"}})
    assert body["data"]["updateWorkspaceSettings"]["consentMode"] == "OPT_OUT"
    result = (await api.gql(TRACK, {"events": [track(consent=None)]}))["data"]["trackEvents"]
    assert (result["accepted"], result["droppedNoConsent"]) == (1, 0)
    opted_out = (await api.gql(TRACK, {"events": [track(consent={"analytics": False})]}))["data"][
        "trackEvents"
    ]
    assert opted_out["droppedNoConsent"] == 1


async def test_small_groups_are_merged_into_other_when_the_workspace_asks(api: Api) -> None:
    await api.gql(UPDATE, {"input": {"minReportProfiles": 2}})
    events = [
        track("product_viewed", anonymous_id="a", at=ago(days=2), context={"channel": "email"}),
        track("order_completed", anonymous_id="a", at=ago(days=1), properties={"revenue": 10}),
        track("product_viewed", anonymous_id="b", at=ago(days=2), context={"channel": "email"}),
        track("order_completed", anonymous_id="b", at=ago(days=1), properties={"revenue": 10}),
        track("product_viewed", anonymous_id="c", at=ago(days=2), context={"channel": "sms"}),
        track("order_completed", anonymous_id="c", at=ago(days=1), properties={"revenue": 10}),
    ]
    await api.gql(TRACK, {"events": events})
    rows = (await api.gql("{ attribution(model: LINEAR) { rows { key conversions } } }"))["data"][
        "attribution"
    ]["rows"]
    assert {r["key"] for r in rows} == {"email", "(other)"}


async def test_paid_touches_without_advertising_consent_earn_nothing_when_the_rule_is_on(api: Api) -> None:
    no_ads = {"analytics": True, "personalization": True, "advertising": False}
    events = [
        track(
            "product_viewed", anonymous_id="a", at=ago(days=3), context={"channel": "email"}, consent=no_ads
        ),
        track(
            "product_viewed",
            anonymous_id="a",
            at=ago(days=2),
            context={"channel": "paid_social"},
            consent=no_ads,
        ),
        track(
            "order_completed", anonymous_id="a", at=ago(days=1), properties={"revenue": 10}, consent=no_ads
        ),
    ]
    await api.gql(TRACK, {"events": events})
    query = "{ attribution(model: LAST_TOUCH) { rows { key conversions } } }"

    async def credited() -> list[str]:
        rows = (await api.gql(query))["data"]["attribution"]["rows"]
        return [r["key"] for r in rows if r["conversions"] > 0]

    assert await credited() == ["paid_social"]
    await api.gql(UPDATE, {"input": {"paidTouchesNeedAdvertising": True}})
    assert await credited() == ["email"]


async def test_an_out_of_bounds_setting_changes_nothing(api: Api) -> None:
    body = await api.gql(UPDATE, {"input": {"halfLifeDays": 0.001, "consentMode": "OPT_OUT"}})
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "halfLifeDays"}
    current = await api.gql("{ workspaceSettings { consentMode halfLifeDays } }")
    assert current["data"]["workspaceSettings"] == {"consentMode": "OPT_IN", "halfLifeDays": 7.0}


async def test_batched_json_array_requests_are_refused(api: Api) -> None:
    response = await api.http.post(
        "/graphql",
        json=[{"query": "{ taxonomy { name } }"}, {"query": "{ taxonomy { name } }"}],
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 400


async def test_a_refused_origin_is_told_what_an_origin_may_look_like(api: Api) -> None:
    body = await api.gql(UPDATE, {"input": {"allowedOrigins": ["*"]}})
    assert body["errors"][0]["message"] == (
        "`allowedOrigins` takes exact lower-case origins only, http(s)://host[:port], without wildcard or path."
    )
