from datetime import datetime, timedelta

from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

QUERY = """{ funnel(steps: ["product_viewed", "product_added", "checkout_started"]) {
  steps { name profiles conversionFromPrevious dropOff medianSecondsFromPrevious } } }"""


async def test_funnel_counts_profiles_reaching_each_step_in_order(api: Api) -> None:
    now = ago(minutes=0)

    def at(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    events = [
        track("product_viewed", anonymous_id="a", at=at(60)),
        track("product_added", anonymous_id="a", at=at(50)),
        track("checkout_started", anonymous_id="a", at=at(40)),
        track("product_viewed", anonymous_id="b", at=at(60)),
        track("product_added", anonymous_id="b", at=at(30)),
        track("checkout_started", anonymous_id="c", at=at(60)),  # out of order: never viewed
        track("product_viewed", anonymous_id="c", at=at(50)),
    ]
    await api.gql(TRACK, {"events": events})
    steps = (await api.gql(QUERY))["data"]["funnel"]["steps"]
    assert [(s["name"], s["profiles"], s["dropOff"]) for s in steps] == [
        ("product_viewed", 3, 0),
        ("product_added", 2, 1),
        ("checkout_started", 1, 1),
    ]
    assert steps[1]["conversionFromPrevious"] == 2 / 3
    assert steps[1]["medianSecondsFromPrevious"] == 20 * 60


async def test_a_funnel_needs_one_to_ten_steps(api: Api) -> None:
    body = await api.gql("{ funnel(steps: []) { steps { name } } }")
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "steps"}
