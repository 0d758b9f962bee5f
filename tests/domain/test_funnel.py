from datetime import UTC, datetime, timedelta

import pytest

from server.domain.funnel import funnel, progress

T0 = datetime(2026, 5, 1, tzinfo=UTC)
STEPS = ["product_viewed", "product_added", "checkout_started"]
WEEK = timedelta(days=7)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_steps_must_happen_in_order() -> None:
    events = [(at(0), "product_added"), (at(1), "product_viewed"), (at(2), "checkout_started")]
    assert progress(events, STEPS, WEEK) == [at(1)]


def test_the_window_runs_from_the_first_step() -> None:
    events = [(at(0), "product_viewed"), (at(60 * 24 * 8), "product_added")]
    assert progress(events, STEPS, WEEK) == [at(0)]


def test_counts_conversion_drop_off_and_median_time() -> None:
    journeys = [
        [at(0), at(10), at(30)],
        [at(0), at(20)],
        [at(0)],
        [at(0), at(30), at(40)],
    ]
    rows = funnel(journeys, STEPS)
    assert [(r.name, r.profiles, r.drop_off) for r in rows] == [
        ("product_viewed", 4, 0),
        ("product_added", 3, 1),
        ("checkout_started", 2, 1),
    ]
    assert rows[0].conversion_from_previous is None
    assert rows[1].conversion_from_previous == pytest.approx(0.75)
    assert rows[2].conversion_from_previous == pytest.approx(2 / 3)
    assert rows[1].median_seconds_from_previous == 20 * 60
    assert rows[2].median_seconds_from_previous == 15 * 60
