import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from server.domain.errors import GranularError
from server.domain.ltv import (
    WEEKS_PER_MONTH,
    BgNbdFit,
    Check,
    CustomerSummary,
    FitError,
    GammaGammaFit,
    Historical,
    Purchase,
    SummaryArrays,
    bgnbd_log_likelihood,
    clv,
    clv_arrays,
    expected_average_value,
    expected_purchases,
    expected_purchases_new,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    historical,
    maximize_likelihood,
    p_alive,
    summarize,
)

# Fader, Hardie & Lee (2005), CDNOW; Fader & Hardie (2013), CDNOW spend.
CDNOW_BG = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, customers=0)
CDNOW_GG = GammaGammaFit(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=0)
# a > 1 takes the other branch of (a+b+x−1)/(a−1).
OTHER_BG = BgNbdFit(r=1.3, alpha=0.7, a=2.2, b=0.6, log_likelihood=0.0, customers=0)
CUSTOMERS = [(0, 0.0, 39.0), (1, 10.5, 39.0), (4, 30.2, 38.0), (12, 36.0, 39.0)]


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=d - 1)


def buy(d: int, revenue: float, hour: int = 12) -> Purchase:
    return Purchase(day(d, hour), revenue)


def simulate(
    rng: np.random.Generator,
    n: int,
    bg: tuple[float, float, float, float] = (0.24, 4.41, 0.79, 2.43),
    gg: tuple[float, float, float] = (6.25, 3.74, 15.44),
) -> SummaryArrays:
    """BG/NBD customers observed for T ~ U(27, 39) weeks, with Gamma-Gamma mean spend for repeat buyers."""
    r, alpha, a, b = bg
    p, q, v = gg
    rate, dropout = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(27.0, 39.0, n)
    arrivals = rng.poisson(rate * T)
    # Dies right after its J-th repeat purchase, J ~ Geometric(p) on 1, 2, …
    x = np.minimum(rng.geometric(dropout), arrivals)
    x1 = np.maximum(x, 1)
    # Given N(T) = n arrivals, the x-th arrival time is T times the x-th of n uniform order statistics.
    t_x = np.where(x > 0, T * rng.beta(x1, np.maximum(arrivals - x1 + 1, 1)), 0.0)
    nu = rng.gamma(q, 1 / v, n)
    m = np.where(x > 0, rng.gamma(p * x1, 1 / (nu * x1)), 0.0)
    return SummaryArrays(x.astype(np.float64), t_x, T, m)


# --- Historical and summaries -------------------------------------------------------------------------


def test_historical_counts_refunds_in_revenue_but_not_in_orders() -> None:
    result = historical([buy(1, 100.0), buy(3, 50.0), buy(4, -30.0)])
    assert result == Historical(120.0, 2, 60.0, day(1), day(3))


def test_historical_of_nothing_is_zero() -> None:
    assert historical([]) == Historical(0.0, 0, 0.0, None, None)


def test_historical_of_refunds_only_has_no_orders() -> None:
    assert historical([buy(2, -10.0)]) == Historical(-10.0, 0, 0.0, None, None)


def test_purchases_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Purchase(datetime(2026, 3, 1, 12), 10.0)


def test_summary_counts_weeks_between_purchase_days() -> None:
    purchases = [buy(1, 10.0), buy(8, 20.0), buy(15, 40.0)]
    assert summarize(purchases, day(29)) == CustomerSummary(2, 2.0, 4.0, 30.0)


def test_summary_merges_purchases_of_one_utc_day() -> None:
    purchases = [buy(1, 10.0), buy(8, 20.0, hour=9), buy(8, 5.0, hour=23)]
    assert summarize(purchases, day(15)) == CustomerSummary(1, 1.0, 2.0, 25.0)


def test_summary_days_are_utc_days() -> None:
    # 21:00 at UTC−5 on day 7 is 02:00 UTC on day 8: the same day as the noon purchase.
    late_evening = Purchase(day(7, 21).replace(tzinfo=timezone(timedelta(hours=-5))), 5.0)
    summary = summarize([buy(1, 10.0), buy(8, 20.0), late_evening], day(15))
    assert summary == CustomerSummary(1, 1.0, 2.0, 25.0)


def test_summary_monetary_value_leaves_out_the_first_day() -> None:
    summary = summarize([buy(1, 1000.0), buy(2, 10.0), buy(3, 30.0)], day(8))
    assert summary is not None
    assert summary.monetary_value == 20.0


def test_summary_of_a_one_time_buyer() -> None:
    assert summarize([buy(1, 1000.0)], day(15, hour=8)) == CustomerSummary(0, 0.0, 2.0, 0.0)


def test_summary_ignores_purchases_after_as_of() -> None:
    purchases = [buy(1, 10.0), buy(8, 20.0), buy(9, 99.0, hour=13)]
    assert summarize(purchases, day(9, hour=12)) == CustomerSummary(1, 1.0, 8 / 7, 20.0)


def test_summary_includes_a_purchase_exactly_at_as_of() -> None:
    assert summarize([buy(1, 10.0), buy(8, 20.0)], day(8)) == CustomerSummary(1, 1.0, 1.0, 20.0)


def test_no_purchase_by_as_of_gives_no_summary() -> None:
    assert summarize([buy(5, 10.0)], day(4)) is None
    assert summarize([], day(4)) is None


def test_refunds_alone_give_no_summary() -> None:
    assert summarize([buy(1, -10.0)], day(4)) is None


def test_refund_nets_into_its_own_purchase_day() -> None:
    purchases = [buy(1, 10.0), buy(8, 50.0, hour=9), buy(8, -20.0, hour=18)]
    assert summarize(purchases, day(15)) == CustomerSummary(1, 1.0, 2.0, 30.0)


def test_refund_on_a_later_day_nets_into_the_last_purchase_day_and_is_no_purchase() -> None:
    purchases = [buy(1, 10.0), buy(8, 50.0), buy(10, -20.0), buy(15, 40.0)]
    assert summarize(purchases, day(15)) == CustomerSummary(2, 2.0, 2.0, 35.0)


def test_refund_of_the_first_order_does_not_touch_repeat_spend() -> None:
    purchases = [buy(1, 100.0), buy(3, -100.0), buy(8, 20.0)]
    assert summarize(purchases, day(15)) == CustomerSummary(1, 1.0, 2.0, 20.0)


def test_refund_before_any_purchase_is_dropped() -> None:
    assert summarize([buy(1, -5.0), buy(2, 10.0), buy(9, 20.0)], day(9)) == CustomerSummary(1, 1.0, 1.0, 20.0)


def test_fully_refunded_repeat_day_still_counts_as_a_purchase() -> None:
    purchases = [buy(1, 10.0), buy(8, 20.0), buy(8, -20.0)]
    assert summarize(purchases, day(8)) == CustomerSummary(1, 1.0, 1.0, 0.0)


def test_summary_needs_an_aware_as_of() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        summarize([buy(1, 10.0)], datetime(2026, 3, 5))


purchase_lists = st.lists(
    st.builds(
        buy,
        st.integers(1, 60),
        st.floats(-50, 200, allow_nan=False).map(lambda r: round(r, 2)),
        st.integers(0, 23),
    ),
    max_size=12,
)


@given(purchase_lists, st.data())
def test_summary_ignores_the_order_of_purchases(purchases: list[Purchase], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(purchases))
    assert summarize(shuffled, day(61)) == summarize(purchases, day(61))


@given(purchase_lists, st.integers(1, 61))
def test_summary_stays_within_its_ranges(purchases: list[Purchase], as_of: int) -> None:
    summary = summarize(purchases, day(as_of))
    orders = sum(1 for p in purchases if p.at <= day(as_of) and p.revenue >= 0)
    if summary is None:
        assert orders == 0
    else:
        assert 0 <= summary.frequency < orders
        assert 0 <= summary.recency <= summary.T
        assert (summary.recency == 0) == (summary.frequency == 0)


def test_summary_arrays_are_read_only_columns() -> None:
    arrays = SummaryArrays.from_summaries(
        [CustomerSummary(2, 1.0, 3.0, 9.5), CustomerSummary(0, 0.0, 1.0, 0.0)]
    )
    assert arrays.frequency.tolist() == [2.0, 0.0]
    assert arrays.T.tolist() == [3.0, 1.0]
    assert arrays.monetary.tolist() == [9.5, 0.0]
    with pytest.raises(ValueError, match="read-only"):
        arrays.recency[0] = 7.0


# --- Likelihoods and posteriors against numerical integration ------------------------------------------


def _expect_beta(f: Callable[[float], float], a: float, b: float) -> float:
    """E[f(p)], p ~ Beta(a, b), by quadrature with the end-point singularities as weights."""

    def integral(g: Callable[[float], float]) -> float:
        return float(integrate.quad(g, 0, 1, weight="alg", wvar=(a - 1, b - 1), epsabs=0, epsrel=1e-12)[0])

    return integral(f) / integral(lambda p: 1.0)


def _expect_gamma(f: Callable[[float], float], shape: float, rate: float) -> float:
    """E[f(λ)], λ ~ Gamma(shape, rate), by quadrature: [0, 1] with λ^(shape−1) as weight, then [1, ∞)."""

    def integral(g: Callable[[float], float]) -> float:
        near = integrate.quad(
            lambda lam: g(lam) * math.exp(-rate * lam),
            0,
            1,
            weight="alg",
            wvar=(shape - 1, 0),
            epsabs=0,
            epsrel=1e-12,
        )[0]
        far = integrate.quad(
            lambda lam: g(lam) * lam ** (shape - 1) * math.exp(-rate * lam),
            1,
            np.inf,
            epsabs=0,
            epsrel=1e-12,
        )[0]
        return float(near + far)

    return integral(f) / integral(lambda lam: 1.0)


def _bgnbd_terms(fit: BgNbdFit, x: int, t_x: float, T: float) -> tuple[float, float]:
    """E over λ, p of (1−p)^x λ^x e^(−λT) ("alive") and δ(x>0)·p(1−p)^(x−1) λ^x e^(−λ t_x) ("died")."""
    alive = _expect_beta(lambda p: (1 - p) ** x, fit.a, fit.b) * _expect_gamma(
        lambda lam: lam**x * math.exp(-lam * T), fit.r, fit.alpha
    )
    if x == 0:
        return alive, 0.0
    died = _expect_beta(lambda p: p * (1 - p) ** (x - 1), fit.a, fit.b) * _expect_gamma(
        lambda lam: lam**x * math.exp(-lam * t_x), fit.r, fit.alpha
    )
    return alive, died


@pytest.mark.parametrize("fit", [CDNOW_BG, OTHER_BG])
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_bgnbd_likelihood_is_the_mixture_of_the_individual_likelihood(
    fit: BgNbdFit, x: int, t_x: float, T: float
) -> None:
    alive, died = _bgnbd_terms(fit, x, t_x, T)
    assert float(bgnbd_log_likelihood(fit.params, x, t_x, T)) == pytest.approx(
        math.log(alive + died), rel=1e-6
    )


@pytest.mark.parametrize("fit", [CDNOW_BG, OTHER_BG])
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_p_alive_is_the_posterior_share_of_the_alive_term(
    fit: BgNbdFit, x: int, t_x: float, T: float
) -> None:
    alive, died = _bgnbd_terms(fit, x, t_x, T)
    assert float(p_alive(fit, x, t_x, T)) == pytest.approx(alive / (alive + died), rel=1e-6)


def test_p_alive_is_one_without_a_repeat_purchase() -> None:
    # BG/NBD customers can only drop out right after a purchase: no repeat, no chance to have left.
    assert p_alive(CDNOW_BG, [0, 0], [0.0, 0.0], [1.0, 500.0]).tolist() == [1.0, 1.0]


def test_p_alive_falls_with_time_since_the_last_purchase() -> None:
    values = p_alive(CDNOW_BG, 3, [39.0, 30.0, 20.0, 5.0], 39.0)
    assert np.all(np.diff(values) < 0)


def _future_purchases_alive(fit: BgNbdFit, t: float, x: int, T: float) -> float:
    """E over λ, p of (1−p)^x λ^x e^(−λT)·(1 − e^(−λpt))/p: purchases in (T, T+t] when alive at T."""

    def given_p(p: float) -> float:
        return (
            _expect_gamma(
                lambda lam: lam**x * math.exp(-lam * T) * -math.expm1(-lam * p * t), fit.r, fit.alpha
            )
            / p
        )

    return _expect_beta(lambda p: (1 - p) ** x * given_p(max(p, 1e-300)), fit.a, fit.b)


@pytest.mark.parametrize("fit", [CDNOW_BG, OTHER_BG])
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS[:3])
def test_expected_purchases_is_the_posterior_mean_of_future_purchases(
    fit: BgNbdFit, x: int, t_x: float, T: float
) -> None:
    alive, died = _bgnbd_terms(fit, x, t_x, T)
    expected = _future_purchases_alive(fit, 52.0, x, T) / (alive + died)
    assert float(expected_purchases(fit, 52.0, x, t_x, T)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("fit", [CDNOW_BG, OTHER_BG])
def test_expected_purchases_of_a_new_customer_is_the_mixture_mean(fit: BgNbdFit) -> None:
    mean = _expect_beta(
        lambda p: _expect_gamma(lambda lam: -math.expm1(-lam * p * 39.0), fit.r, fit.alpha) / max(p, 1e-300),
        fit.a,
        fit.b,
    )
    assert float(expected_purchases_new(fit, 39.0)) == pytest.approx(mean, rel=1e-6)


def test_expected_purchases_at_a_equal_one_is_the_limit_from_both_sides() -> None:
    at_one = BgNbdFit(0.5, 3.0, 1.0, 2.0, 0.0, 0)
    below, above = BgNbdFit(0.5, 3.0, 1 - 1e-4, 2.0, 0.0, 0), BgNbdFit(0.5, 3.0, 1 + 1e-4, 2.0, 0.0, 0)
    value = float(expected_purchases(at_one, 26.0, 2, 10.0, 20.0))
    sides = [float(expected_purchases(f, 26.0, 2, 10.0, 20.0)) for f in (below, above)]
    assert min(sides) < value < max(sides)


def test_expected_purchases_stays_finite_for_heavy_buyers() -> None:
    # The textbook ₂F₁ is NaN here in scipy; the transformed form is not.
    values = expected_purchases(CDNOW_BG, 52.0, [300, 2000], [38.5, 38.9], [39.0, 39.0])
    assert np.all(np.isfinite(values))
    assert values[1] > values[0] > 100


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(*[st.floats(0.05, 30.0)] * 4),
    st.integers(0, 400),
    st.floats(0.0, 1.0),
    st.floats(0.0, 200.0),
)
def test_expected_purchases_is_a_bounded_increasing_function_of_time(
    params: tuple[float, float, float, float], x: int, share: float, T: float
) -> None:
    fit = BgNbdFit(*params, log_likelihood=0.0, customers=0)
    t_x = share * T if x > 0 else 0.0
    t = WEEKS_PER_MONTH * np.arange(25.0)
    values = expected_purchases(fit, t, x, t_x, T)
    ceiling = float(p_alive(fit, x, t_x, T)) * t * (fit.r + x) / (fit.alpha + T)
    assert values[0] == 0.0
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) >= -1e-12 * values[1:])
    assert np.all(values <= ceiling * (1 + 1e-12))


def test_expected_purchases_grow_with_frequency_and_shrink_with_silence() -> None:
    by_frequency = expected_purchases(CDNOW_BG, 52.0, [1, 3, 10], 35.0, 39.0)
    by_recency = expected_purchases(CDNOW_BG, 52.0, 5, [38.0, 25.0, 10.0], 39.0)
    assert np.all(np.diff(by_frequency) > 0)
    assert np.all(np.diff(by_recency) < 0)


@pytest.mark.parametrize(("x", "m"), [(1, 12.5), (3, 40.0), (10, 7.2)])
def test_gamma_gamma_likelihood_is_the_mixture_over_nu(x: int, m: float) -> None:
    p, q, v = CDNOW_GG.params

    def density(nu: float) -> float:
        # The mean of x Gamma(p, ν) spends is Gamma(px, xν).
        return float(stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / v))

    expected = integrate.quad(density, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert float(gamma_gamma_log_likelihood(CDNOW_GG.params, x, m)) == pytest.approx(
        math.log(expected), rel=1e-6
    )


@pytest.mark.parametrize(("x", "m"), [(1, 12.5), (3, 40.0), (10, 7.2)])
def test_expected_average_value_is_the_posterior_mean_spend(x: int, m: float) -> None:
    p, q, v = CDNOW_GG.params

    def weight(nu: float) -> float:
        return float(stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / v))

    def quad(f: Callable[[float], float]) -> float:
        return float(integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0])

    posterior_mean = quad(lambda nu: p / nu * weight(nu)) / quad(weight)
    assert float(expected_average_value(CDNOW_GG, x, m)) == pytest.approx(posterior_mean, rel=1e-6)


def test_expected_average_value_without_spend_evidence_is_the_population_mean() -> None:
    population = CDNOW_GG.p * CDNOW_GG.v / (CDNOW_GG.q - 1)
    values = expected_average_value(CDNOW_GG, [0, 3, 3], [0.0, 0.0, -12.0])
    assert values.tolist() == pytest.approx([population] * 3, rel=1e-12)


# --- Fits ---------------------------------------------------------------------------------------------


def test_fits_recover_the_parameters_that_generated_the_data() -> None:
    # 100k customers, seeded. Across ten seeds the estimates' spread (1 sd) is ≤ 1% for r, α, q; ~3% for
    # a, p, v; ~4% for b, the least identified, so 15% is ~4 sd for the worst and still a sharp check.
    arrays = simulate(np.random.default_rng(20261128), 100_000)
    bg, gg = fit_bgnbd(arrays), fit_gamma_gamma(arrays)
    assert bg.params == pytest.approx((0.24, 4.41, 0.79, 2.43), rel=0.15)
    assert gg.params == pytest.approx((6.25, 3.74, 15.44), rel=0.15)
    assert (bg.customers, gg.customers) == (100_000, int(np.sum(arrays.frequency > 0)))


@pytest.fixture(scope="module")
def small() -> SummaryArrays:
    return simulate(np.random.default_rng(7), 3000)


def _gradient(total: Callable[[np.ndarray], float], params: tuple[float, ...]) -> np.ndarray:
    """Central differences of total(params) in log-parameters."""
    h = 1e-5
    log = np.log(params)
    steps = np.eye(len(params)) * h
    return np.array([(total(np.exp(log + s)) - total(np.exp(log - s))) / (2 * h) for s in steps])


def test_bgnbd_fit_is_an_unpenalized_maximum(small: SummaryArrays) -> None:
    fit = fit_bgnbd(small)

    def total(params: np.ndarray) -> float:
        return float(bgnbd_log_likelihood(tuple(params), small.frequency, small.recency, small.T).sum())

    assert fit.log_likelihood == pytest.approx(total(np.array(fit.params)), rel=1e-12)
    assert np.max(np.abs(_gradient(total, fit.params))) < 1e-3


def test_gamma_gamma_fit_is_an_unpenalized_maximum(small: SummaryArrays) -> None:
    fit = fit_gamma_gamma(small)
    repeat = small.frequency > 0

    def total(params: np.ndarray) -> float:
        return float(
            gamma_gamma_log_likelihood(tuple(params), small.frequency[repeat], small.monetary[repeat]).sum()
        )

    assert fit.log_likelihood == pytest.approx(total(np.array(fit.params)), rel=1e-12)
    assert np.max(np.abs(_gradient(total, fit.params))) < 1e-3


def test_fits_weigh_every_customer_once(small: SummaryArrays) -> None:
    doubled = SummaryArrays(*(np.concatenate([column, column]) for column in vars(small).values()))
    once, twice = fit_bgnbd(small), fit_bgnbd(doubled)
    assert twice.params == pytest.approx(once.params, rel=1e-4)
    assert twice.log_likelihood == pytest.approx(2 * once.log_likelihood, rel=1e-9)


def test_spend_fit_follows_the_currency_unit(small: SummaryArrays) -> None:
    in_cents = SummaryArrays(small.frequency, small.recency, small.T, small.monetary * 100)
    dollars, cents = fit_gamma_gamma(small), fit_gamma_gamma(in_cents)
    assert (cents.p, cents.q, cents.v / 100) == pytest.approx(dollars.params, rel=1e-4)


def test_fits_leave_their_input_alone(small: SummaryArrays) -> None:
    before = {name: column.copy() for name, column in vars(small).items()}
    fit_bgnbd(small)
    fit_gamma_gamma(small)
    assert all(np.array_equal(before[name], column) for name, column in vars(small).items())


def test_purchase_model_needs_enough_customers(small: SummaryArrays) -> None:
    few = SummaryArrays(*(column[:9] for column in vars(small).values()))
    with pytest.raises(FitError, match="at least 10 customers"):
        fit_bgnbd(few)
    with pytest.raises(FitError, match="at least 5000 customers"):
        fit_bgnbd(small, min_customers=5000)


def test_purchase_model_needs_repeat_buyers() -> None:
    frequency = np.array([1.0] * 9 + [0.0] * 41)
    arrays = SummaryArrays(frequency, frequency * 5, np.full(50, 30.0), frequency * 20)
    with pytest.raises(FitError, match="at least 10 repeat buyers") as raised:
        fit_bgnbd(arrays)
    assert [(c.check, c.passed) for c in raised.value.checks] == [(Check.REPEAT_BUYERS, False)]


def test_an_accepted_fit_passed_every_check_in_order(small: SummaryArrays) -> None:
    for fit in (fit_bgnbd(small), fit_gamma_gamma(small)):
        assert [(c.check, c.passed) for c in fit.checks] == [
            (Check.REPEAT_BUYERS, True),
            (Check.CONVERGED, True),
            (Check.INTERIOR, True),
            (Check.HESSIAN, True),
        ]


def test_a_likelihood_flat_along_a_ridge_fails_the_hessian_check() -> None:
    # ln L = −(ln p − ln q)²: every p = q is a maximum, so the data cannot tell p and q apart.
    def total(params: np.ndarray) -> tuple[float, np.ndarray]:
        gap = math.log(params[0]) - math.log(params[1])
        return -(gap**2), np.array([-2 * gap / params[0], 2 * gap / params[1]])

    with pytest.raises(FitError, match="not a proper maximum") as raised:
        maximize_likelihood(total, (2.0, 0.5), 1, "test", ("p", "q"))
    assert [(c.check, c.passed) for c in raised.value.checks] == [
        (Check.CONVERGED, True),
        (Check.INTERIOR, True),
        (Check.HESSIAN, False),
    ]


def test_a_dropout_shared_by_every_customer_runs_a_and_b_to_their_bound() -> None:
    # Everyone drops out with p = 0.2: no heterogeneity left, so a, b → ∞ at a fixed ratio (b gets there first).
    arrays = simulate(np.random.default_rng(3), 1000, bg=(0.5, 4.0, 2000.0, 8000.0))
    with pytest.raises(FitError, match=r"no finite fit for this data \(b\)") as raised:
        fit_bgnbd(arrays)
    assert [(c.check, c.passed) for c in raised.value.checks] == [
        (Check.REPEAT_BUYERS, True),
        (Check.CONVERGED, True),
        (Check.INTERIOR, False),
    ]


def test_spend_model_needs_enough_repeat_buyers(small: SummaryArrays) -> None:
    with pytest.raises(FitError, match="at least 5000 repeat buyers") as raised:
        fit_gamma_gamma(small, min_repeat_buyers=5000)
    assert isinstance(raised.value, GranularError)
    assert raised.value.reason == "The spend model needs at least 5000 repeat buyers."


def test_spend_model_without_variation_has_no_finite_fit() -> None:
    # Everyone spends exactly 20: the likelihood keeps growing as p, q → ∞.
    n = 40
    arrays = SummaryArrays(np.full(n, 3.0), np.full(n, 10.0), np.full(n, 30.0), np.full(n, 20.0))
    with pytest.raises(FitError, match="no finite fit"):
        fit_gamma_gamma(arrays)


# --- CLV ----------------------------------------------------------------------------------------------

REGULAR = CustomerSummary(frequency=4, recency=30.0, T=39.0, monetary_value=35.0)


def test_clv_without_discount_is_spend_times_purchases() -> None:
    value = clv(CDNOW_BG, CDNOW_GG, REGULAR, months=12, monthly_discount_rate=0.0)
    purchases = float(expected_purchases(CDNOW_BG, 12 * WEEKS_PER_MONTH, 4, 30.0, 39.0))
    spend = float(expected_average_value(CDNOW_GG, 4, 35.0))
    assert value == pytest.approx(spend * purchases, rel=1e-12)


def test_clv_discounts_each_month() -> None:
    months = np.arange(1, 4)
    cumulative = expected_purchases(CDNOW_BG, WEEKS_PER_MONTH * np.arange(4.0), 4, 30.0, 39.0)
    spend = float(expected_average_value(CDNOW_GG, 4, 35.0))
    expected = spend * float(np.sum(np.diff(cumulative) / 1.05**months))
    assert clv(CDNOW_BG, CDNOW_GG, REGULAR, months=3, monthly_discount_rate=0.05) == pytest.approx(expected)


def test_clv_grows_with_the_horizon() -> None:
    values = [clv(CDNOW_BG, CDNOW_GG, REGULAR, months=m) for m in (1, 3, 6, 12, 24)]
    assert np.all(np.diff(values) > 0)


def test_discounting_lowers_clv() -> None:
    values = [clv(CDNOW_BG, CDNOW_GG, REGULAR, monthly_discount_rate=r) for r in (0.0, 0.01, 0.05)]
    assert values[0] > values[1] > values[2] > 0


def test_customer_without_a_purchase_has_no_clv() -> None:
    assert clv(CDNOW_BG, CDNOW_GG, None) == 0.0


def test_clv_arrays_match_one_at_a_time() -> None:
    summaries = [REGULAR, CustomerSummary(0, 0.0, 12.0, 0.0), CustomerSummary(9, 38.0, 39.0, 80.0)]
    together = clv_arrays(CDNOW_BG, CDNOW_GG, SummaryArrays.from_summaries(summaries), months=6)
    assert together.tolist() == pytest.approx([clv(CDNOW_BG, CDNOW_GG, s, months=6) for s in summaries])
