from collections import Counter
from datetime import UTC, datetime

from server.domain.demo_shop import CHANNELS, Plan, messages
from server.services.event_payload import parse

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_same_seed_makes_the_same_shop() -> None:
    assert messages(Plan(50, 90, 3), NOW) == messages(Plan(50, 90, 3), NOW)


def test_another_seed_makes_another_shop() -> None:
    assert messages(Plan(50, 90, 3), NOW) != messages(Plan(50, 90, 4), NOW)


def test_every_message_passes_ingest_validation_and_lies_in_the_window() -> None:
    shop = messages(Plan(100, 30, 1), NOW)
    for message in shop:
        parse(message)
        assert message["timestamp"] <= NOW.isoformat()
    assert shop == sorted(shop, key=lambda m: m["timestamp"])


def test_the_shop_has_journeys_orders_identity_consent_mixes_and_every_channel() -> None:
    shop = messages(Plan(400, 90, 7), NOW)
    names = Counter(m.get("event") or m["type"] for m in shop)
    assert (
        names["product_viewed"]
        > names["product_added"]
        > names["checkout_started"]
        > names["order_completed"]
        > 0
    )
    assert names["identify"] > 0
    assert names["order_refunded"] > 0
    declined = [m for m in shop if m["context"]["consent"]["categoryPreferences"].get("analytics") is False]
    assert declined
    assert any(m["context"].get("gpc") for m in shop)
    campaigns = {m["context"].get("campaign", {}).get("medium") for m in shop}
    assert {c[2].get("campaign", {}).get("medium") for c in CHANNELS} - {None} <= campaigns
