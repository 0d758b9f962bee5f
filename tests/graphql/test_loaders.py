"""Per-profile fields load for a whole page in a fixed number of database commands."""

import math
from collections import Counter
from typing import Any

from server.storage.client import IN_CHUNK
from tests.conftest import Api, CommandLog
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

EVERY_FIELD = """query($first: Int!) { profiles(first: $first) { edges { node {
  id userId anonymousIds phase engagementScore intentScore affinities { key weight }
  consent { purpose granted source at } traits firstSeen lastSeen
  scoreExplanation { engagementScore intentScore engagement { event weight } intent { event weight } }
  conversionProbability
  ltv { revenue orders averageOrderValue firstPurchase lastPurchase pAlive expectedPurchases(weeks: 4)
        expectedAverageOrderValue clv }
} } } }"""
# Where per-profile data lives; API keys and workspace settings are read through short caches.
PER_PROFILE_SOURCES = {"profiles", "events", "model_fits", "audit_log", "data_keys"}


async def _shop(api: Api, customers: int) -> None:
    """Customers on an open journey now; the first 40 also had a closed one 60+ days ago (some bought),
    for the models to be fitted on; every other one has an e-mail address (a personal, encrypted
    trait), so any page of 20 holds some: pages are in id order, not in the order customers were made."""
    events: list[dict[str, Any]] = []
    for i in range(customers):
        user = f"c{i}"
        if i < 40:
            events.append(track("product_viewed", user_id=user, anonymous_id=None, at=ago(days=60 + i)))
        if i < 40 and i % 3 == 0:
            bought = ago(days=60 + i, minutes=-10)
            order = track(
                "order_completed", user_id=user, anonymous_id=None, at=bought, properties={"revenue": 30}
            )
            events.append(order)
        events.append(track("checkout_started", user_id=user, anonymous_id=None, at=ago(minutes=5)))
        if i % 2 == 0:  # personal traits, decrypted for an ADMIN who selects `traits`
            events.append(
                {
                    **track(user_id=user, anonymous_id=None),
                    "type": "identify",
                    "traits": {"email": f"{user}@example.com"},
                }
            )
    for start in range(0, len(events), 500):
        body = await api.gql(TRACK, {"events": events[start : start + 500]})
        assert body["data"]["trackEvents"]["rejected"] == []
    fit = await api.gql("mutation { fitModels { customers conversionModelError } }")
    assert fit["data"]["fitModels"]["conversionModelError"] is None


async def _sent_for(api: Api, commands: CommandLog, first: int) -> Counter[tuple[str, str]]:
    commands.seen.clear()
    body = await api.gql(EVERY_FIELD, {"first": first})
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["profiles"]["edges"]]
    assert len(nodes) == first
    assert all(n["conversionProbability"] is not None and n["scoreExplanation"] for n in nodes)
    assert all(("email" in n["traits"]) == (int(n["userId"][1:]) % 2 == 0) for n in nodes)
    # getMore only fetches the next batch of the same cursor; the queries themselves are counted.
    sent = commands.sent_to(api.db.name)
    return Counter(s for s in sent if s[0] != "getMore" and s[1] in PER_PROFILE_SOURCES)


async def test_a_page_with_every_per_profile_field_costs_a_fixed_few_commands_per_chunk_of_profiles(
    api: Api, commands: CommandLog
) -> None:
    await _shop(api, 200)
    await _sent_for(api, commands, 20)  # warms the key and settings caches
    small = await _sent_for(api, commands, 20)
    large = await _sent_for(api, commands, 200)
    # The page, one read of the profiles' events shared by explanations, conversion probability and
    # LTV, their two fits, the data keys and the one audit write of the personal traits read.
    assert sum(small.values()) == 6, small
    # The read of events sends the page's ids IN_CHUNK at a time (the embedded database's `$in`
    # costs documents × ids); nothing else grows with the page.
    chunks = math.ceil(200 / IN_CHUNK)
    assert large - small == Counter({("aggregate", "events"): chunks - 1})
