"""Analytics restricted to an audience equal the same analytics run on the members' data alone."""

import json
from typing import Any

from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

SHOE_FANS = {"name": "shoe fans", "rule": {"affinity": {"key": "category:shoes", "minWeight": 0.1}}}
# (user, category, channel of the first touch, revenue)
CUSTOMERS = [("ana", "shoes", "email", 30), ("cy", "shoes", "paid_search", 50), ("ben", "hats", "social", 70)]
REPORTS = """query($audience: ID) {
  attributionComparison(audience: $audience) { model totalConversions totalValue rows { key conversions value } }
  topPaths(audience: $audience) { steps conversions journeys }
  funnel(steps: ["product_viewed", "product_added", "order_completed"], audience: $audience) {
    steps { name profiles } }
  ltvDrivers(audience: $audience) { event customersWith customersWithout meanWith meanWithout }
  ltvDistribution(audience: $audience) { customers revenue buckets { lower upper customers revenue } } }"""


def _unordered(value: Any) -> Any:
    """The answer with every list sorted (rows tied on their sort key may come in either order) and
    numbers to 6 places: both workspaces' events are made relative to now, milliseconds apart, which
    moves time-decay weights in the tenth decimal."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _events(users: set[str]) -> list[dict[str, Any]]:
    events = []
    for user, category, channel, revenue in CUSTOMERS:
        if user not in users:
            continue
        properties = {"category": category}
        events += [
            track(
                "product_viewed",
                user_id=user,
                anonymous_id=None,
                at=ago(hours=5),
                properties=properties,
                context={"channel": channel},
            ),
            track(
                "product_added",
                user_id=user,
                anonymous_id=None,
                at=ago(hours=4),
                properties=properties,
                context={"channel": "direct"},
            ),
            track(
                "order_completed",
                user_id=user,
                anonymous_id=None,
                at=ago(hours=3),
                properties={**properties, "revenue": revenue},
                context={"channel": "direct"},
            ),
        ]
    return events


async def test_reports_restricted_to_an_audience_equal_reports_on_its_members_alone(api: Api) -> None:
    body = await api.gql(
        "mutation($input: AudienceInput!) { defineAudience(input: $input) { audience { id } } }",
        {"input": SHOE_FANS},
    )
    audience = body["data"]["defineAudience"]["audience"]["id"]
    await api.gql(TRACK, {"events": _events({"ana", "cy", "ben"})})
    restricted = await api.gql(REPORTS, {"audience": audience})
    assert "errors" not in restricted, restricted

    alone = await api.key_in("members-alone", "ADMIN")
    await api.gql(TRACK, {"events": _events({"ana", "cy"})}, key=alone)
    expected = await api.gql(REPORTS, {"audience": None}, key=alone)

    assert _unordered(restricted["data"]) == _unordered(expected["data"])
    assert restricted["data"]["attributionComparison"][0]["totalConversions"] == 2
    assert restricted["data"]["ltvDistribution"]["customers"] == 2
    everyone = await api.gql(REPORTS, {"audience": None})
    assert everyone["data"]["attributionComparison"][0]["totalConversions"] == 3


async def test_an_unknown_audience_is_refused_by_name(api: Api) -> None:
    body = await api.gql('{ funnel(steps: ["product_viewed"], audience: "aud_nope") { steps { name } } }')
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "audience"}
    body = await api.gql('{ attribution(model: LINEAR, audience: "aud_nope") { totalConversions } }')
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "audience"}
    body = await api.gql('{ ltvDrivers(audience: "aud_nope") { event } }')
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "audience"}
    body = await api.gql('{ ltvDistribution(audience: "aud_nope") { customers } }')
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "audience"}
