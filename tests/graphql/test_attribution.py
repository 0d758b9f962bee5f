from datetime import timedelta
from typing import Any

import pytest

from server.domain.attribution import GroupBy, Model, TimelineEvent, attribute_all, paths_for_profile
from tests.conftest import Api
from tests.factories import ago, iso, track
from tests.graphql.test_track_events import TRACK

# (anonymous id, days ago, event, channel, campaign, revenue)
JOURNEYS = [
    ("a", 3.0, "product_viewed", "email", "spring", None),
    ("a", 2.0, "size_guide_viewed", "paid_search", "brand", None),
    ("a", 1.0, "order_completed", "direct", None, 100.0),
    ("b", 5.0, "product_viewed", "organic_social", None, None),
    ("b", 4.0, "product_added", "email", "spring", None),
    ("b", 3.0, "order_completed", "email", "spring", 50.0),
    ("b", 1.0, "product_viewed", "direct", None, None),
    ("c", 2.0, "product_viewed", "paid_search", "brand", None),
]
QUERY = """query($model: AttributionModel!, $groupBy: AttributionGroup!) {
  attribution(model: $model, groupBy: $groupBy) { model totalConversions totalValue rows { key conversions value share } }
}"""


async def _send(api: Api) -> None:
    events = []
    for anonymous_id, days, name, channel, campaign, revenue in JOURNEYS:
        context: dict[str, Any] = {"channel": channel}
        if campaign:
            context["campaign"] = {"name": campaign}
        properties = {"revenue": revenue} if revenue else {}
        events.append(
            track(name, anonymous_id=anonymous_id, at=ago(days=days), properties=properties, context=context)
        )
    body = await api.gql(TRACK, {"events": events})
    assert body["data"]["trackEvents"]["accepted"] == len(JOURNEYS)


def _expected(group_by: GroupBy) -> dict[Model, Any]:
    paths = []
    for profile in ("a", "b", "c"):
        rows = [j for j in JOURNEYS if j[0] == profile]
        timeline = [
            TimelineEvent(
                at=ago(days=d),
                channel=ch,
                campaign=cp,
                event=n,
                conversion=n == "order_completed",
                value=r or 0.0,
            )
            for _, d, n, ch, cp, r in sorted(rows, key=lambda j: -j[1])
        ]
        paths.extend(paths_for_profile(profile, timeline, lookback=timedelta(days=30)))
    return attribute_all(paths, group_by=group_by)


@pytest.mark.parametrize("group_by", list(GroupBy))
async def test_the_graphql_report_equals_the_pure_models_for_every_model(api: Api, group_by: GroupBy) -> None:
    await _send(api)
    expected = _expected(group_by)
    for model in Model:
        body = await api.gql(QUERY, {"model": model.value, "groupBy": group_by.value})
        report = body["data"]["attribution"]
        want = expected[model]
        assert report["totalConversions"] == pytest.approx(want.total_conversions)
        assert report["totalValue"] == pytest.approx(want.total_value)
        got = {r["key"]: (r["conversions"], r["value"]) for r in report["rows"]}
        assert got == {r.key: (pytest.approx(r.conversions), pytest.approx(r.value)) for r in want.rows}, (
            model
        )


async def test_rows_sum_to_the_totals(api: Api) -> None:
    await _send(api)
    body = await api.gql(
        "{ attributionComparison { model totalConversions totalValue rows { conversions value } } }"
    )
    reports = body["data"]["attributionComparison"]
    assert len(reports) == 7
    for report in reports:
        assert sum(r["conversions"] for r in report["rows"]) == pytest.approx(
            report["totalConversions"], abs=1e-6
        )
        assert sum(r["value"] for r in report["rows"]) == pytest.approx(report["totalValue"], abs=1e-6)
    assert reports[0]["totalConversions"] == 2
    assert reports[0]["totalValue"] == 150


async def test_all_seven_models_in_one_request_share_one_aggregation(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _send(api)
    events = api.app.state.services.analytics._events
    calls = []
    original = events.timelines

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(events, "timelines", counting)
    aliases = " ".join(
        f"{m.value.lower()}: attribution(model: {m.value}) {{ totalConversions }}" for m in Model
    )
    body = await api.gql("{ " + aliases + " }")
    assert len(body["data"]) == 7
    assert len(calls) == 1


async def test_a_touch_without_analytics_consent_earns_no_credit(api: Api) -> None:
    events = [
        track(
            "product_viewed",
            anonymous_id="x",
            at=ago(days=2),
            context={"channel": "email"},
            consent={"analytics": True},
        ),
        track(
            "order_completed",
            anonymous_id="x",
            at=ago(days=1),
            properties={"revenue": 10},
            context={"channel": "direct"},
            consent={"analytics": False},
        ),
    ]
    await api.gql(TRACK, {"events": events})
    body = await api.gql(QUERY, {"model": "LAST_TOUCH", "groupBy": "CHANNEL"})
    assert [r["key"] for r in body["data"]["attribution"]["rows"]] == ["email"]


async def test_a_micro_conversion_can_be_the_target(api: Api) -> None:
    await _send(api)
    body = await api.gql(
        '{ attribution(model: FIRST_TOUCH, conversion: "size_guide_viewed") { totalConversions rows { key } } }'
    )
    report = body["data"]["attribution"]
    assert report["totalConversions"] == 1
    assert [r["key"] for r in report["rows"]] == ["email"]


async def test_the_window_limits_which_conversions_count(api: Api) -> None:
    await _send(api)
    query = "query($from: DateTime) { attribution(model: LINEAR, from: $from) { totalConversions } }"
    body = await api.gql(query, {"from": iso(ago(days=2))})
    assert body["data"]["attribution"]["totalConversions"] == 1


async def test_a_lookback_out_of_range_names_the_field(api: Api) -> None:
    body = await api.gql("{ attribution(model: LINEAR, lookbackDays: 0) { totalConversions } }")
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "lookbackDays"}


async def test_top_paths_show_the_sequences_before_conversions_and_their_rates(api: Api) -> None:
    await _send(api)
    body = await api.gql("{ topPaths { steps conversions journeys conversionRate } }")
    assert body["data"]["topPaths"] == [
        {
            "steps": ["product_viewed", "product_added"],
            "conversions": 1,
            "journeys": 1,
            "conversionRate": 1.0,
        },
        {
            "steps": ["product_viewed", "size_guide_viewed"],
            "conversions": 1,
            "journeys": 1,
            "conversionRate": 1.0,
        },
    ]


async def test_a_custom_channel_earns_credit_under_its_own_name(api: Api) -> None:
    events = [
        track("product_viewed", anonymous_id="p", at=ago(days=2), context={"channel": "Podcast Ads"}),
        track("order_completed", anonymous_id="p", at=ago(days=1), properties={"revenue": 10}),
    ]
    await api.gql(TRACK, {"events": events})
    body = await api.gql(QUERY, {"model": "LAST_TOUCH", "groupBy": "CHANNEL"})
    assert [r["key"] for r in body["data"]["attribution"]["rows"]] == ["podcast_ads"]
