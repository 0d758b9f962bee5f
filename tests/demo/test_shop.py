from collections import Counter, defaultdict
from datetime import UTC, datetime

from server.demo.shop import CHANNELS, Plan, messages
from server.domain.customer_value import fit_models
from server.domain.ltv import Purchase, summarize
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


def test_the_default_shop_has_enough_repeat_buyers_for_both_ltv_models_to_fit() -> None:
    purchases: dict[str, list[Purchase]] = defaultdict(list)
    for m in messages(Plan(1000, 90, 7), NOW):
        if m.get("event") in ("order_completed", "order_refunded"):
            customer = m["anonymousId"].split("-")[2]  # anon-<seed>-<customer>-<device>
            sign = 1 if m["event"] == "order_completed" else -1
            purchases[customer].append(
                Purchase(datetime.fromisoformat(m["timestamp"]), sign * m["properties"]["revenue"])
            )
    summaries = [s for s in (summarize(p, NOW) for p in purchases.values()) if s is not None]
    fitted = fit_models(summaries, NOW)
    assert (fitted.bgnbd_error, fitted.gamma_gamma_error) == (None, None)
    assert sum(1 for s in summaries if s.frequency > 0) >= 100
