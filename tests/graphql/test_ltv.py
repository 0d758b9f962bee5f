import math
import random

import pytest

from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

FIT = """mutation { fitModels { customers bgnbd { r alpha a b customers } gammaGamma { p q v customers }
  bgnbdError gammaGammaError durationMs } }"""
CUSTOMERS = 150
LTV = """query($id: ID!) { ltv(profileId: $id) { revenue orders averageOrderValue pAlive
  expectedPurchases(weeks: 12) expectedAverageOrderValue clv clv24: clv(months: 24) } }"""


def _customers(rng: random.Random, n: int) -> list[list[tuple[float, float]]]:
    """(days ago, revenue) per customer, drawn from the models' own world: weekly purchase rates
    λ ~ Gamma(0.24, 4.41), a drop-out chance p ~ Beta(0.79, 2.43) after each purchase, and spend
    per order ~ Gamma(6.25, ν) with ν ~ Gamma(3.74, 15.44) per customer."""
    customers = []
    for _ in range(n):
        rate, dropout = rng.gammavariate(0.24, 1 / 4.41), rng.betavariate(0.79, 2.43)
        nu, age = rng.gammavariate(3.74, 1 / 15.44), rng.uniform(8, 40)
        weeks, t = [age], 0.0
        while rate > 0 and not (len(weeks) > 1 and rng.random() < dropout):
            t += rng.expovariate(rate)
            if t >= age:
                break
            weeks.append(age - t)
        customers.append([(w * 7, round(rng.gammavariate(6.25, 1 / nu), 2)) for w in weeks])
    return customers


async def _shop(api: Api) -> None:
    events = [
        track(
            "order_completed",
            user_id=f"c{i}",
            anonymous_id=None,
            at=ago(days=days),
            properties={"revenue": revenue},
        )
        for i, purchases in enumerate(_customers(random.Random(5), CUSTOMERS))
        for days, revenue in purchases
    ]
    events.append(
        track("order_refunded", user_id="c0", anonymous_id=None, at=ago(days=1), properties={"revenue": 10})
    )
    for start in range(0, len(events), 500):
        body = await api.gql(TRACK, {"events": events[start : start + 500]})
        assert body["data"]["trackEvents"]["rejected"] == []


async def _profile_id(api: Api, user_id: str) -> str:
    body = await api.gql("query($u: String) { profile(userId: $u) { id } }", {"u": user_id})
    profile_id: str = body["data"]["profile"]["id"]
    return profile_id


async def test_fit_then_ltv_gives_finite_sensible_numbers(api: Api) -> None:
    await _shop(api)
    fit = (await api.gql(FIT))["data"]["fitModels"]
    assert (fit["bgnbdError"], fit["gammaGammaError"]) == (None, None)
    assert fit["customers"] == CUSTOMERS
    assert all(v > 0 for v in fit["bgnbd"].values())
    value = (await api.gql(LTV, {"id": await _profile_id(api, "c1")}))["data"]["ltv"]
    assert value["orders"] >= 1
    assert 0 <= value["pAlive"] <= 1
    assert value["expectedPurchases"] >= 0
    assert value["expectedAverageOrderValue"] > 0
    assert math.isfinite(value["clv"])
    assert value["clv24"] >= value["clv"] >= 0


async def test_a_refund_is_negative_revenue_not_an_order(api: Api) -> None:
    await _shop(api)
    value = (await api.gql(LTV, {"id": await _profile_id(api, "c0")}))["data"]["ltv"]
    stored = [e async for e in api.db["events"].find({"event": "order_completed"})]
    profile_id = await _profile_id(api, "c0")
    orders = [e["properties"]["revenue"] for e in stored if e["profile_id"] == profile_id]
    assert value["orders"] == len(orders)
    assert value["revenue"] == pytest.approx(sum(orders) - 10)


async def test_a_profile_without_purchases_is_alive_and_worth_nothing_yet(api: Api) -> None:
    await _shop(api)
    await api.gql(FIT)
    await api.gql(TRACK, {"events": [track("product_viewed", user_id="browser")]})
    value = (await api.gql(LTV, {"id": await _profile_id(api, "browser")}))["data"]["ltv"]
    assert (value["orders"], value["pAlive"], value["clv"], value["expectedPurchases"]) == (0, 1.0, 0.0, 0.0)


async def test_before_any_fit_predictions_are_absent_not_guessed(api: Api) -> None:
    await _shop(api)
    value = (await api.gql(LTV, {"id": await _profile_id(api, "c1")}))["data"]["ltv"]
    assert (value["pAlive"], value["clv"], value["expectedPurchases"]) == (None, None, None)


async def test_too_few_customers_reports_why_instead_of_a_fit(api: Api) -> None:
    await api.gql(TRACK, {"events": [track("order_completed", user_id="only", properties={"revenue": 5})]})
    fit = (await api.gql(FIT))["data"]["fitModels"]
    assert fit["bgnbd"] is None
    assert fit["bgnbdError"]


async def test_ltv_drivers_compare_first_session_behaviour(api: Api) -> None:
    events = []
    for i in range(8):
        start = ago(days=10 + i)
        zoomer = i % 2 == 0
        events.append(track("product_viewed", user_id=f"d{i}", anonymous_id=None, at=start))
        if zoomer:
            events.append(
                track(
                    "product_image_zoomed",
                    user_id=f"d{i}",
                    anonymous_id=None,
                    at=ago(days=10 + i, minutes=-5),
                )
            )
        events.append(
            track(
                "order_completed",
                user_id=f"d{i}",
                anonymous_id=None,
                at=ago(days=9 + i),
                properties={"revenue": 100 if zoomer else 20},
            )
        )
    await api.gql(TRACK, {"events": events})
    rows = await api.gql(
        "{ ltvDrivers { event customersWith customersWithout meanWith meanWithout lift significant } }"
    )
    zoom = next(r for r in rows["data"]["ltvDrivers"] if r["event"] == "product_image_zoomed")
    assert (zoom["customersWith"], zoom["customersWithout"]) == (4, 4)
    assert (zoom["meanWith"], zoom["meanWithout"]) == (100, 20)
    assert zoom["lift"] == 4.0
    assert zoom["significant"] is False
