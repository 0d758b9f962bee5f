"""phaseDistribution and ltvDistribution: counted by the database over every profile, and equal to
what the per-profile fields say about the same profiles."""

import math
from collections import Counter
from itertools import pairwise
from typing import Any

from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

NO_PERSONALIZATION = {"analytics": True, "personalization": False}
PHASES = "{ phaseDistribution { profiles withoutConsent rows { phase journeyOpen count } } }"
EVERY_PHASE = "{ profiles(first: 500) { edges { node { phase } } } }"
LTV = "query($b: [Float!]) { ltvDistribution(boundaries: $b) { customers revenue averageRevenue buckets { lower upper customers revenue } } }"


async def _send(api: Api, events: list[dict[str, Any]]) -> None:
    body = await api.gql(TRACK, {"events": events})
    assert body["data"]["trackEvents"]["rejected"] == [], body


async def _varied_shop(api: Api) -> None:
    """Profiles in every situation the phase rule tells apart, several of some kinds, and one merge."""
    events = []
    for i in range(3):
        events += [
            track("product_viewed", anonymous_id=f"browsing-{i}", at=ago(days=2)),
            track("checkout_started", anonymous_id=f"browsing-{i}", at=ago(days=1)),
        ]
    events += [
        track("product_image_zoomed", anonymous_id="zoomer", at=ago(hours=3)),
        track("product_viewed", user_id="buyer", anonymous_id=None, at=ago(days=3)),
        track("order_completed", user_id="buyer", anonymous_id=None, at=ago(days=2)),
        track("product_added", anonymous_id="gone-quiet", at=ago(days=45)),
        track("order_completed", user_id="old-buyer", anonymous_id=None, at=ago(days=60)),
        track("some_unplanned_event", anonymous_id="unplanned", at=ago(days=1)),
        track("product_viewed", anonymous_id="private", at=ago(days=1), consent=NO_PERSONALIZATION),
        # An anonymous visitor who turns out to be a known customer: two profiles, one survives.
        track("product_viewed", anonymous_id="laptop", at=ago(days=4)),
        track("reviews_read", user_id="merged", anonymous_id="phone", at=ago(days=3)),
        track("size_guide_viewed", user_id="merged", anonymous_id="laptop", at=ago(days=2)),
    ]
    await _send(api, events)


def _api_phases(body: dict[str, Any]) -> Counter[str | None]:
    return Counter(edge["node"]["phase"] for edge in body["data"]["profiles"]["edges"])


def _distribution_phases(body: dict[str, Any]) -> Counter[str | None]:
    figures = body["data"]["phaseDistribution"]
    counted: Counter[str | None] = Counter({None: figures["withoutConsent"]})
    for row in figures["rows"]:
        counted[row["phase"]] += row["count"]
    return +counted


async def test_the_phase_distribution_counts_each_profile_in_the_phase_the_api_shows_for_it(api: Api) -> None:
    await _varied_shop(api)
    listed = await api.gql(EVERY_PHASE)
    distribution = await api.gql(PHASES)
    assert _distribution_phases(distribution) == _api_phases(listed)
    assert len({row["phase"] for row in distribution["data"]["phaseDistribution"]["rows"]}) >= 3


async def test_the_phase_distribution_counts_live_profiles_only(api: Api) -> None:
    await _varied_shop(api)
    listed = await api.gql(EVERY_PHASE)
    distribution = await api.gql(PHASES)
    assert distribution["data"]["phaseDistribution"]["profiles"] == len(listed["data"]["profiles"]["edges"])
    merged = await api.gql('{ profile(anonymousId: "laptop") { userId } }')
    assert merged["data"]["profile"]["userId"] == "merged"


async def test_profiles_without_personalization_consent_are_counted_apart(api: Api) -> None:
    await _send(
        api,
        [
            track("product_viewed", anonymous_id="private", consent=NO_PERSONALIZATION),
            track("product_viewed", anonymous_id="open"),
        ],
    )
    figures = (await api.gql(PHASES))["data"]["phaseDistribution"]
    assert (figures["profiles"], figures["withoutConsent"]) == (2, 1)
    assert figures["rows"] == [{"phase": "DISCOVERY", "journeyOpen": True, "count": 1}]


async def test_the_phase_distribution_keeps_profiles_active_in_the_range(api: Api) -> None:
    await _send(
        api,
        [
            track("product_viewed", anonymous_id="recent", at=ago(days=5)),
            track("product_viewed", anonymous_id="earlier", at=ago(days=50)),
        ],
    )
    body = await api.gql(
        "query($from: DateTime) { phaseDistribution(from: $from) { profiles } }",
        {"from": ago(days=20).isoformat()},
    )
    assert body["data"]["phaseDistribution"]["profiles"] == 1


async def test_a_range_that_ends_before_it_starts_is_refused(api: Api) -> None:
    body = await api.gql(
        "query($from: DateTime, $to: DateTime) { phaseDistribution(from: $from, to: $to) { profiles } }",
        {"from": ago(days=1).isoformat(), "to": ago(days=2).isoformat()},
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_WINDOW"
    assert error["message"] == "`from` must be at or before `to`."


async def _buyers(api: Api) -> None:
    orders = [("a", 15.0), ("a", 30.0), ("b", 120.0), ("c", 7.5), ("d", 2500.0), ("e", 40.0)]
    events = [
        track("order_completed", user_id=user, anonymous_id=None, at=ago(days=10), properties={"revenue": r})
        for user, r in orders
    ]
    events += [
        track("order_refunded", user_id="e", anonymous_id=None, at=ago(days=5), properties={"revenue": 60}),
        track("product_viewed", user_id="browser", anonymous_id=None, at=ago(days=1)),
    ]
    await _send(api, events)


async def test_the_ltv_distribution_holds_each_customer_where_their_ltv_revenue_falls(api: Api) -> None:
    await _buyers(api)
    listed = await api.gql("{ profiles(first: 500) { edges { node { ltv { revenue orders } } } } }")
    revenues = [e["node"]["ltv"]["revenue"] for e in listed["data"]["profiles"]["edges"]]
    buyers = [
        e["node"]["ltv"]["revenue"] for e in listed["data"]["profiles"]["edges"] if e["node"]["ltv"]["orders"]
    ]
    figures = (await api.gql(LTV))["data"]["ltvDistribution"]
    assert figures["customers"] == len(buyers) == 5
    assert abs(figures["revenue"] - sum(revenues)) < 1e-9
    for bucket in figures["buckets"]:
        inside = [
            r
            for r in buyers
            if (bucket["lower"] is None or r >= bucket["lower"])
            and (bucket["upper"] is None or r < bucket["upper"])
        ]
        assert bucket["customers"] == len(inside), bucket
        assert abs(bucket["revenue"] - sum(inside)) < 1e-9


async def test_revenue_that_is_not_a_finite_number_counts_nowhere_as_in_each_customers_ltv(api: Api) -> None:
    await _buyers(api)
    order = await api.db["events"].find_one({"event": "order_completed"})
    # Stored before ingest refused non-finite numbers: a customer whose only order says NaN.
    order.update({"_id": "legacy-order", "message_id": "legacy-order", "profile_id": "prf_legacy"})
    order["properties"] = {"revenue": math.nan}
    await api.db["events"].insert_one(order)
    figures = (await api.gql(LTV))["data"]["ltvDistribution"]
    assert figures["customers"] == 5
    assert math.isfinite(figures["revenue"])


async def test_ltv_buckets_follow_the_boundaries_asked_for(api: Api) -> None:
    await _buyers(api)
    figures = (await api.gql(LTV, {"b": [0, 100]}))["data"]["ltvDistribution"]
    assert [(b["lower"], b["upper"], b["customers"]) for b in figures["buckets"]] == [
        (None, 0.0, 1),
        (0.0, 100.0, 2),
        (100.0, None, 2),
    ]
    assert figures["averageRevenue"] == figures["revenue"] / 5


async def test_the_default_ltv_buckets_keep_empty_ones_between_full_ones(api: Api) -> None:
    await _buyers(api)
    figures = (await api.gql(LTV))["data"]["ltvDistribution"]
    bounds = [(b["lower"], b["upper"]) for b in figures["buckets"]]
    assert (bounds[0], bounds[-1]) == ((None, 0.0), (2000.0, 5000.0))
    assert all(below[1] == above[0] for below, above in pairwise(bounds))
    assert sum(b["customers"] for b in figures["buckets"]) == 5


async def test_ltv_boundaries_out_of_order_are_refused_with_what_is_allowed(api: Api) -> None:
    body = await api.gql(LTV, {"b": [100, 10]})
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INVALID_BOUNDARIES", "field": "boundaries"}
    assert error["message"] == "`boundaries` takes 1 to 50 finite numbers in increasing order."
