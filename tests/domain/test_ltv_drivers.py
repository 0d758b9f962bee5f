import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from server.domain.ltv_drivers import Driver, adjusted, drivers, early_micro_conversions
from server.domain.taxonomy import Phase

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


DISCOVERY, INTEREST, INTENT, ACTION = Phase.DISCOVERY, Phase.INTEREST, Phase.INTENT, Phase.ACTION


@pytest.mark.parametrize(
    ("firsts", "purchase", "early"),
    [
        # No purchase: every micro-conversion below ACTION counts; events without a phase never do.
        ({"zoom": (DISCOVERY, at(1)), "page_viewed": (None, at(0))}, None, {"zoom"}),
        # The purchase flow of a first-session order is not an early driver: only what came before it.
        (
            {
                "zoom": (DISCOVERY, at(1)),
                "checkout_started": (INTENT, at(9)),
                "order_completed": (ACTION, at(9)),
            },
            at(9),
            {"zoom"},
        ),
        ({"size_guide_viewed": (INTEREST, at(3)), "order_completed": (ACTION, at(2))}, at(2), set()),
    ],
)
def test_early_micro_conversions_are_below_action_and_before_the_first_purchase(
    firsts: dict[str, tuple[Phase | None, datetime]], purchase: datetime | None, early: set[str]
) -> None:
    assert early_micro_conversions(firsts, purchase) == frozenset(early)


def test_benjamini_hochberg_q_values_keep_the_order_given() -> None:
    # Sorted 0.01, 0.03, 0.04 → 0.01·3/1, 0.03·3/2, 0.04·3/3 = 0.03, 0.045, 0.04; then made monotone.
    assert adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.04, 0.04], rel=1e-12)


def test_q_values_adjust_the_p_values_of_the_tested_drivers_only() -> None:
    rng = np.random.default_rng(5)
    customers = [
        (frozenset({"zoom"} if i % 2 else {"reviews_read"}), float(v))
        for i, v in enumerate(rng.normal(100, 10, 80))
    ]
    customers += [(frozenset({"rare"}), 100.0)] * 3
    found = {d.event: d for d in drivers(customers)}
    assert (found["rare"].p_value, found["rare"].q_value, found["rare"].significant) == (None, None, False)
    tested = [found["reviews_read"], found["zoom"]]
    assert [d.q_value for d in tested] == pytest.approx(
        adjusted([d.p_value or 0.0 for d in tested]), rel=1e-12
    )


def test_a_difference_significant_alone_is_not_after_correction() -> None:
    rng = np.random.default_rng(6)
    # Twenty events that change nothing and one with a modest effect (p = 0.022 on its own).
    customers = []
    for i in range(400):
        seen = {f"noise_{k}" for k in range(20) if rng.random() < 0.5}
        zoom = i % 2 == 0
        value = float(rng.normal(100 + (2.5 if zoom else 0), 12))
        customers.append((frozenset(seen | ({"zoom"} if zoom else set())), value))
    zoom = next(d for d in drivers(customers) if d.event == "zoom")
    assert zoom.p_value is not None
    assert zoom.p_value < 0.05
    assert zoom.q_value is not None
    assert zoom.q_value > 0.05
    assert not zoom.significant


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
    assert [d.q_value for d in drivers(TINY)] == [None, None]


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
