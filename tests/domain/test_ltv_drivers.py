import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from server.domain.ltv_drivers import Driver, drivers, first_session_events

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_first_session_is_the_half_hour_after_the_first_event() -> None:
    events = [(at(29.99), "size_guide"), (at(0), "page_view"), (at(30), "cart_add"), (at(5), "zoom")]
    assert first_session_events(events) == frozenset({"page_view", "zoom", "size_guide"})


def test_first_session_window_is_a_parameter() -> None:
    events = [(at(0), "page_view"), (at(50), "cart_add"), (at(70), "checkout")]
    assert first_session_events(events, window=timedelta(hours=1)) == frozenset({"page_view", "cart_add"})


def test_no_events_no_first_session() -> None:
    assert first_session_events([]) == frozenset()


TINY = [
    (frozenset({"zoom"}), 10.0),
    (frozenset({"zoom", "size_guide"}), 20.0),
    (frozenset({"size_guide"}), 4.0),
    (frozenset(), 6.0),
]


def test_drivers_compare_means_with_and_without_each_event() -> None:
    zoom, size_guide = drivers(TINY)
    assert (zoom.event, zoom.customers_with, zoom.customers_without) == ("zoom", 2, 2)
    assert (zoom.mean_with, zoom.mean_without, zoom.difference, zoom.lift) == (15.0, 5.0, 10.0, 2.0)
    assert (size_guide.mean_with, size_guide.mean_without, size_guide.lift) == (12.0, 8.0, 0.5)


def test_driver_interval_is_welch() -> None:
    zoom = drivers(TINY)[0]
    # With [10, 20] against [4, 6]: s² = 50 and 2, se² = 50/2 + 2/2 = 26, ν = 26² / (25²/1 + 1²/1).
    half = stats.t.ppf(0.975, 26**2 / (25**2 + 1**2)) * math.sqrt(26)
    assert (zoom.ci_low, zoom.ci_high) == pytest.approx((10 - half, 10 + half), rel=1e-12)
    welch = stats.ttest_ind([10.0, 20.0], [4.0, 6.0], equal_var=False).confidence_interval(0.95)
    assert (zoom.ci_low, zoom.ci_high) == pytest.approx((welch.low, welch.high), rel=1e-9)


def test_small_groups_are_never_significant() -> None:
    assert [d.significant for d in drivers(TINY)] == [False, False]
    assert [d.significant for d in drivers(TINY, min_group=2)] == [False, False]


def test_a_clear_difference_in_large_groups_is_significant() -> None:
    rng = np.random.default_rng(3)
    customers = [(frozenset({"zoom"}), float(v)) for v in rng.normal(120, 10, 40)]
    customers += [(frozenset({"page_view"}), float(v)) for v in rng.normal(100, 10, 40)]
    zoom = next(d for d in drivers(customers) if d.event == "zoom")
    assert zoom.significant
    assert zoom.ci_low is not None
    assert zoom.ci_low > 0
    assert not next(d for d in drivers(customers, min_group=41) if d.event == "zoom").significant


def test_no_difference_is_not_significant() -> None:
    customers = [(frozenset({"zoom"} if i % 2 else set()), float(i % 7)) for i in range(200)]
    (zoom,) = drivers(customers)
    assert zoom.ci_low is not None
    assert zoom.ci_high is not None
    assert zoom.ci_low < 0 < zoom.ci_high
    assert not zoom.significant


def test_one_customer_per_group_has_no_interval() -> None:
    (zoom,) = drivers([(frozenset({"zoom"}), 10.0), (frozenset(), 5.0)])
    assert (zoom.ci_low, zoom.ci_high, zoom.significant) == (None, None, False)


def test_lift_needs_a_positive_baseline_and_goes_last_without_one() -> None:
    customers = [
        (frozenset({"email_click", "zoom"}), 10.0),
        (frozenset({"zoom"}), 30.0),
        (frozenset({"email_click"}), 0.0),
        (frozenset(), 0.0),
    ]
    email_click, zoom = drivers(customers)
    assert (email_click.event, email_click.lift) == ("email_click", pytest.approx(5 / 15 - 1))
    assert (zoom.event, zoom.mean_with, zoom.mean_without, zoom.lift) == ("zoom", 20.0, 0.0, None)


def test_an_event_everyone_did_has_nothing_to_compare_with() -> None:
    customers = [(frozenset({"page_view", "zoom"}), 10.0), (frozenset({"page_view"}), 5.0)]
    assert [d.event for d in drivers(customers)] == ["zoom"]


def test_drivers_of_nobody_are_empty() -> None:
    assert drivers([]) == []


def test_driver_is_a_value() -> None:
    driver = drivers(TINY)[0]
    with pytest.raises(AttributeError):
        driver.lift = 0.0  # type: ignore[misc]
    assert isinstance(driver, Driver)
