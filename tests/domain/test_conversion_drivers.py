import pytest
from scipy import stats

from server.domain.conversion_drivers import conversion_drivers, newcombe, wilson
from server.domain.ltv_drivers import adjusted


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        # Newcombe (1998), "Interval estimation for the difference between independent proportions",
        # Table II, method 10 (score interval, no continuity correction).
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0000)),
    ],
)
def test_difference_interval_is_newcombes_hybrid_score(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    a, m, b, n = counts
    assert newcombe(wilson(a, m), wilson(b, n)) == pytest.approx(published, abs=5e-5)


def test_a_rate_carries_its_wilson_interval() -> None:
    # Wilson (1927): p̂ = 0.8, n = 70 → (0.6918, 0.8770) at 95%.
    rate = wilson(56, 70)
    assert (rate.rate, rate.low, rate.high) == (
        0.8,
        pytest.approx(0.69183, abs=5e-6),
        pytest.approx(0.87695, abs=5e-6),
    )


PROFILES = (
    [(frozenset({"size_guide_viewed", "product_viewed"}), True)] * 30
    + [(frozenset({"size_guide_viewed", "product_viewed"}), False)] * 10
    + [(frozenset({"product_viewed"}), True)] * 12
    + [(frozenset({"product_viewed"}), False)] * 48
)


def test_each_micro_conversion_compares_the_conversion_rates_with_and_without_it() -> None:
    (size_guide,) = conversion_drivers(PROFILES)
    assert size_guide.event == "size_guide_viewed"
    assert (size_guide.with_.converted, size_guide.with_.profiles, size_guide.with_.rate) == (30, 40, 0.75)
    assert (size_guide.without.converted, size_guide.without.profiles, size_guide.without.rate) == (
        12,
        60,
        0.2,
    )
    assert size_guide.difference == pytest.approx(0.55)
    assert (size_guide.difference_low, size_guide.difference_high) == pytest.approx(
        newcombe(wilson(30, 40), wilson(12, 60)), rel=1e-12
    )


def test_an_event_every_profile_did_has_nothing_to_compare_with() -> None:
    assert "product_viewed" not in {d.event for d in conversion_drivers(PROFILES)}


def test_p_values_are_fishers_exact_and_q_values_benjamini_hochberg() -> None:
    profiles = PROFILES + [(frozenset({"product_viewed", "reviews_read"}), i % 3 == 0) for i in range(35)]
    found = {d.event: d for d in conversion_drivers(profiles)}
    size_guide, reviews = found["size_guide_viewed"], found["reviews_read"]
    assert size_guide.p_value == pytest.approx(stats.fisher_exact([[30, 10], [24, 71]]).pvalue, rel=1e-12)
    assert [size_guide.q_value, reviews.q_value] == pytest.approx(
        adjusted([size_guide.p_value, reviews.p_value or 0.0]), rel=1e-12
    )
    assert (size_guide.significant, reviews.significant) == (True, False)


def test_groups_under_the_minimum_are_shown_but_not_tested() -> None:
    few = [*PROFILES, (frozenset({"ar_used"}), True)]
    ar = next(d for d in conversion_drivers(few) if d.event == "ar_used")
    assert (ar.with_.profiles, ar.p_value, ar.q_value, ar.significant) == (1, None, None, False)


def test_largest_difference_first() -> None:
    profiles = [*PROFILES, *[(frozenset({"product_viewed", "reviews_read"}), False)] * 5]
    assert [d.event for d in conversion_drivers(profiles)] == ["size_guide_viewed", "reviews_read"]
