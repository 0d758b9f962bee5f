import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from server.domain.propensity import NotEnoughJourneys, Touchpoint, examples, features, fit, probability
from server.domain.scoring import ScoredEvent
from server.domain.taxonomy import Phase

H = timedelta(days=7)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tp(hours: float, name: str, phase: Phase | None, channel: str = "email") -> Touchpoint:
    return Touchpoint(ScoredEvent(T0 + timedelta(hours=hours), name, 0.5, phase), channel)


def test_features_count_decayed_events_phase_and_channel_mix() -> None:
    journey = [
        tp(0, "product_viewed", Phase.DISCOVERY, "email"),
        tp(0, "product_added", Phase.INTEREST, "direct"),
    ]
    f = features(journey, T0 + H, H)
    assert f["event:product_viewed"] == pytest.approx(0.5)
    assert (f["phase:INTEREST"], f["phase:DISCOVERY"]) == (1.0, 0.0)
    assert (f["channel:email"], f["channel:direct"]) == (0.5, 0.5)
    assert f["recency_log_hours"] == pytest.approx(math.log1p(24 * 7))


def test_a_converted_journey_is_an_example_of_what_came_before_the_action() -> None:
    journey = [tp(0, "product_viewed", Phase.DISCOVERY), tp(1, "order_completed", Phase.ACTION)]
    [example] = examples(journey, T0 + timedelta(days=60), H)
    assert example.converted is True
    assert "event:order_completed" not in example.features


def test_the_open_journey_is_not_an_example() -> None:
    assert examples([tp(0, "product_viewed", Phase.DISCOVERY)], T0 + timedelta(days=3), H) == []


def test_an_idle_journey_is_a_non_converting_example() -> None:
    [example] = examples([tp(0, "product_viewed", Phase.DISCOVERY)], T0 + timedelta(days=40), H)
    assert example.converted is False


def test_the_model_learns_that_checkouts_convert_and_reports_auc() -> None:
    rng = random.Random(3)
    data = []
    for i in range(300):
        start = i * 24.0 * 40
        checkout = rng.random() < 0.5
        journey = [tp(start, "product_viewed", Phase.DISCOVERY)]
        if checkout:
            journey.append(tp(start + 1, "checkout_started", Phase.INTENT))
        if rng.random() < (0.8 if checkout else 0.1):
            journey.append(tp(start + 2, "order_completed", Phase.ACTION))
        data.extend(examples(journey, T0 + timedelta(days=40 * 301), H))
    model = fit(data)
    assert model.auc is not None
    assert model.auc > 0.75
    likely = probability(
        model,
        features(
            [tp(0, "product_viewed", Phase.DISCOVERY), tp(1, "checkout_started", Phase.INTENT)],
            T0 + timedelta(hours=1),
            H,
        ),
    )
    unlikely = probability(model, features([tp(0, "product_viewed", Phase.DISCOVERY)], T0, H))
    assert likely > 0.6 > 0.3 > unlikely


def test_too_few_journeys_or_one_outcome_is_refused() -> None:
    with pytest.raises(NotEnoughJourneys):
        fit([])
