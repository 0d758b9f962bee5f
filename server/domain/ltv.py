"""Lifetime value (DESIGN §8): historical revenue, a BG/NBD purchase model and a Gamma-Gamma spend model.

BG/NBD follows Fader, Hardie & Lee (2005) "Counting your customers the easy way"; Gamma-Gamma follows
Fader & Hardie (2013) "The Gamma-Gamma model of monetary value". Time is in weeks, days are UTC
calendar days. Both fits are exact maximum likelihood (no penalizer) over log-parameters, and a fit
is accepted only when it passes every check of `Check` (a degenerate optimum is reported, not used).

Refunds are purchases with negative revenue. They are never orders: they do not count in `orders`
and never create a purchase day. Their revenue is netted into the latest purchase day at or before
them (their own day when it has an order, else the order they most plausibly reverse); a refund
before any purchase is dropped from the summary. A day's net revenue can therefore be ≤ 0.
"""

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

import numpy as np
import numpy.typing as npt
from scipy.optimize import approx_fprime, minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from server.domain.errors import GranularError

FloatArray = npt.NDArray[np.float64]

WEEKS_PER_MONTH = 4.345
# Parameters live in [1e−4, 1e4]. One that reaches a bound is running off to 0 or ∞ (no heterogeneity
# left to fit, e.g. every customer with the same dropout), so the maximum does not exist and the fit
# fails rather than return an arbitrary point on the ridge; beyond 1e4, scipy's ₂F₁ is not trustworthy.
_LOG_BOUND = math.log(1e4)
_NON_FINITE_PENALTY = 1e300
MIN_REPEAT_BUYERS = 10
# A direction of log-parameters along which the summed log-likelihood curves less than this is one the
# data do not determine: one standard error along it spans more than a factor e^5 in the parameters.
_MIN_CURVATURE = 1 / 5**2


class Check(Enum):
    """What a fit must pass to be accepted."""

    REPEAT_BUYERS = "repeat_buyers"  # enough customers with a repeat purchase to learn from
    CONVERGED = "converged"  # the optimizer reached a point where the gradient vanishes
    INTERIOR = "interior"  # no parameter ran to a bound (0 or ∞): the maximum exists
    HESSIAN = "hessian"  # the curvature there is positive definite: a proper, identified maximum


@dataclass(frozen=True)
class FitCheck:
    check: Check
    passed: bool
    detail: str


class FitError(GranularError):
    """A model could not be fitted; `reason` is a short sentence for the caller, `checks` the checks
    run up to the one that failed."""

    code = "LTV_MODEL_UNAVAILABLE"

    def __init__(self, reason: str, checks: Sequence[FitCheck] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.checks = tuple(checks)


@dataclass(frozen=True)
class Purchase:
    at: datetime
    revenue: float

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("Purchase.at must be timezone-aware")
        if not math.isfinite(self.revenue):
            raise ValueError("Purchase.revenue must be finite")


@dataclass(frozen=True)
class Historical:
    revenue: float
    orders: int
    average_order_value: float
    first_purchase: datetime | None
    last_purchase: datetime | None


def historical(purchases: Sequence[Purchase]) -> Historical:
    """revenue = Σ revenue (refunds included); orders = #{revenue ≥ 0}; AOV = revenue / orders, 0 if none."""
    revenue = math.fsum(p.revenue for p in purchases)
    order_times = [p.at for p in purchases if p.revenue >= 0]
    orders = len(order_times)
    return Historical(
        revenue=revenue,
        orders=orders,
        average_order_value=revenue / orders if orders else 0.0,
        first_purchase=min(order_times, default=None),
        last_purchase=max(order_times, default=None),
    )


@dataclass(frozen=True)
class CustomerSummary:
    frequency: int
    recency: float
    T: float
    monetary_value: float


def _utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def summarize(purchases: Sequence[Purchase], as_of: datetime) -> CustomerSummary | None:
    """x = purchase days − 1; t_x, T = weeks from first day to last day, to as_of; m = mean repeat day."""
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    seen = [p for p in purchases if p.at <= as_of]
    days = sorted({_utc_day(p.at) for p in seen if p.revenue >= 0})
    if not days:
        return None
    revenue: list[list[float]] = [[] for _ in days]
    for p in seen:
        i = bisect.bisect_right(days, _utc_day(p.at)) - 1
        if i >= 0:
            revenue[i].append(p.revenue)
    frequency = len(days) - 1
    repeat = math.fsum(math.fsum(day) for day in revenue[1:])
    return CustomerSummary(
        frequency=frequency,
        recency=(days[-1] - days[0]).days / 7,
        T=(_utc_day(as_of) - days[0]).days / 7,
        monetary_value=repeat / frequency if frequency else 0.0,
    )


@dataclass(frozen=True)
class SummaryArrays:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray

    @classmethod
    def from_summaries(cls, summaries: Sequence[CustomerSummary]) -> "SummaryArrays":
        """One read-only float64 column per summary field, in the order given."""

        def column(values: list[float]) -> FloatArray:
            array = np.array(values, dtype=np.float64)
            array.flags.writeable = False
            return array

        return cls(
            frequency=column([s.frequency for s in summaries]),
            recency=column([s.recency for s in summaries]),
            T=column([s.T for s in summaries]),
            monetary=column([s.monetary_value for s in summaries]),
        )


def _f(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _distinct(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    # Day-granular summaries repeat a lot (every one-time buyer of a cohort day is the same row),
    # so the likelihood is evaluated once per distinct row and weighted by its count.
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [_f(rows[:, i]) for i in range(len(columns))], _f(counts)


Gradient = Callable[[FloatArray], tuple[float, FloatArray]]


def _repeat_buyers(count: int, needed: int, model: str) -> FitCheck:
    check = FitCheck(Check.REPEAT_BUYERS, count >= needed, f"{count} repeat buyers, {needed} needed")
    if not check.passed:
        raise FitError(f"The {model} model needs at least {needed} repeat buyers.", (check,))
    return check


def maximize_likelihood(
    total: Gradient,
    start: Sequence[float],
    n: int,
    model: str,
    names: Sequence[str],
    passed: Sequence[FitCheck] = (),
) -> tuple[FloatArray, tuple[FitCheck, ...]]:
    """The maximum and the checks it passed (after `passed`, those the caller ran); FitError names the
    first check it failed."""

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            value, gradient = total(params)
        if not (math.isfinite(value) and np.all(np.isfinite(gradient))):
            # Pushes the line search back towards the finite region it came from.
            return _NON_FINITE_PENALTY, np.zeros_like(log_params)
        # Per customer, so the tolerances mean the same whatever the workspace's size.
        return -value / n, _f(-gradient * params / n)

    result = minimize(
        objective,
        np.log(np.asarray(start, dtype=np.float64)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
        options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 5000},
    )
    steepest = float(np.max(np.abs(result.jac)))
    # At the maximum the line search can stall on rounding ("ABNORMAL"): a flat gradient is converged.
    converged = float(result.fun) < _NON_FINITE_PENALTY and (bool(result.success) or steepest <= 1e-5)
    checks = [
        *passed,
        FitCheck(Check.CONVERGED, converged, f"{result.nit} iterations, largest gradient {steepest:.1e}"),
    ]
    if not converged:
        finite = float(result.fun) < _NON_FINITE_PENALTY
        raise FitError(
            f"The {model} model {'did not converge' if finite else 'has no finite likelihood'}.", checks
        )
    at_bound = [name for name, value in zip(names, result.x, strict=True) if abs(value) >= _LOG_BOUND - 1e-3]
    checks.append(
        FitCheck(
            Check.INTERIOR,
            not at_bound,
            f"{', '.join(at_bound)} at a bound (1e-4 or 1e4)"
            if at_bound
            else "every parameter inside (1e-4, 1e4)",
        )
    )
    if at_bound:
        raise FitError(f"The {model} model has no finite fit for this data ({', '.join(at_bound)}).", checks)
    # Curvature of the negative log-likelihood summed over customers, in log-parameters, from
    # differences of its gradient: its inverse is the covariance of the estimates.
    jacobian = approx_fprime(result.x, lambda x: objective(x)[1], 1e-6)
    eigenvalues = np.linalg.eigvalsh((jacobian + jacobian.T) / 2 * n)
    smallest = float(eigenvalues[0])
    definite = bool(np.all(np.isfinite(eigenvalues))) and smallest >= _MIN_CURVATURE
    spread = f"{1 / math.sqrt(smallest):.2g}" if smallest > 0 else "unbounded"
    checks.append(
        FitCheck(
            Check.HESSIAN,
            definite,
            f"smallest eigenvalue {smallest:.3g} (standard error {spread} in log-parameters, at most 5)",
        )
    )
    if not definite:
        raise FitError(
            f"The {model} model's optimum is not a proper maximum: the data leave a parameter undetermined.",
            checks,
        )
    return _f(np.exp(result.x)), tuple(checks)


# --- BG/NBD -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbdFit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    checks: tuple[FitCheck, ...] = ()

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


def bgnbd_log_likelihood(
    params: Sequence[float], x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """ln[Γ(r+x)α^r / (Γ(r)B(a,b))] + ln[B(a,b+x)(α+T)^−(r+x) + δ(x>0)·B(a+1,b+x−1)(α+t_x)^−(r+x)]."""
    r, alpha, a, b = params
    x, t_x, T = _f(x), _f(t_x), _f(T)
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    # x = 0 would put b − 1 (possibly ≤ 0) into betaln; such rows are masked out anyway.
    x1 = np.maximum(x, 1.0)
    died = np.where(x > 0, betaln(a + 1, b + x1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return _f(base + np.logaddexp(alive, died))


def _bgnbd_total(
    params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, weight: FloatArray
) -> tuple[float, FloatArray]:
    r, alpha, a, b = params
    ll = bgnbd_log_likelihood((r, alpha, a, b), x, t_x, T)
    # Share of each customer's likelihood in the "alive at T" term; the rest is "died after t_x".
    x1 = np.maximum(x, 1.0)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    died = betaln(a + 1, b + x1 - 1) - (r + x) * np.log(alpha + t_x)
    w = np.where(x > 0, np.exp(alive - np.logaddexp(alive, died)), 1.0)
    psi_abx = digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w * np.log(alpha + T) - (1 - w) * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w / (alpha + T) + (1 - w) / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a) + w * digamma(a) + (1 - w) * digamma(a + 1) - psi_abx
    d_b = digamma(a + b) - digamma(b) + w * digamma(b + x) + (1 - w) * digamma(b + x1 - 1) - psi_abx
    gradient = np.stack([d_r, d_alpha, d_a, d_b]) @ weight
    return float(weight @ ll), _f(gradient)


def fit_bgnbd(
    arrays: SummaryArrays, *, min_customers: int = 10, min_repeat_buyers: int = MIN_REPEAT_BUYERS
) -> BgNbdFit:
    """argmax over (ln r, ln α, ln a, ln b) of Σ ln L(r, α, a, b | x, t_x, T), from r = α = a = b = 1."""
    n = len(arrays.frequency)
    if n < min_customers:
        raise FitError(f"The purchase model needs at least {min_customers} customers.")
    # Without repeat purchases the likelihood only grows as r → 0; with a handful, a and b run off.
    repeat = _repeat_buyers(int(np.sum(arrays.frequency > 0)), min_repeat_buyers, "purchase")
    (x, t_x, T), weight = _distinct(arrays.frequency, arrays.recency, arrays.T)

    def total(params: FloatArray) -> tuple[float, FloatArray]:
        return _bgnbd_total(params, x, t_x, T, weight)

    names = ("r", "alpha", "a", "b")
    params, checks = maximize_likelihood(total, (1.0, 1.0, 1.0, 1.0), n, "purchase", names, (repeat,))
    r, alpha, a, b = (float(v) for v in params)
    return BgNbdFit(r, alpha, a, b, total(params)[0], n, checks)


def p_alive(fit: BgNbdFit, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0)·a/(b+x−1)·((α+T)/(α+t_x))^(r+x)); 1 when x = 0."""
    x, t_x, T = _f(x), _f(t_x), _f(T)
    x1 = np.maximum(x, 1.0)
    log_odds = (
        np.log(fit.a)
        - np.log(fit.b + x1 - 1)
        + (fit.r + x) * (np.log(fit.alpha + T) - np.log(fit.alpha + t_x))
    )
    # 1/(1 + e^z) as e^−logaddexp(0, z) never overflows.
    return _f(np.where(x > 0, np.exp(-np.logaddexp(0.0, log_odds)), 1.0))


def _power_times_hyp2f1(r: float, a: float, b: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """(1−z)^(r+x)·₂F₁(r+x, b+x; a+b+x−1; z), through whichever equivalent form scipy evaluates."""
    c = a + b + x - 1
    # scipy's ₂F₁ fails (NaN or ±inf; never a wrong finite value, checked against numerical integration)
    # on large parameters, in different places for equivalent forms, so each customer takes the first
    # form that comes out finite. First Euler's transformation (1−z)^(a−1)·₂F₁(a+b−1−r, a−1; c; z): small
    # upper parameters and a large c whatever x (the textbook form is NaN from x ≈ 300); then the textbook
    # form, which holds up when a and b are in the thousands; then Euler 1e−12 off an integer c − a − b,
    # where scipy has a NaN of its own.
    with np.errstate(all="ignore"):
        euler, textbook = np.exp((a - 1) * np.log1p(-z)), np.exp((r + x) * np.log1p(-z))
        forms = (
            (euler, a + b - 1 - r, a - 1, c),
            (textbook, r + x, b + x, c),
            (euler, a + b - 1 - r, a - 1, c * (1 + 1e-12)),
        )
        value = np.full(np.broadcast(x, z).shape, np.nan)
        for power, first, second, third in forms:
            failed = ~np.isfinite(value)
            if not failed.any():
                break
            value = np.where(failed, power * _f(hyp2f1(first, second, third, z)), value)
    return _f(value)


def expected_purchases(
    fit: BgNbdFit, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """E[Y(t)|x,t_x,T] = (a+b+x−1)/(a−1)·[1 − (1−z)^(r+x)·₂F₁(r+x,b+x;a+b+x−1;z)]·P(alive), z = t/(α+T+t)."""
    r, alpha, b = fit.r, fit.alpha, fit.b
    # a = 1 is a removable singularity (0/0): evaluating 1e−6 away costs ~1e−6 relative accuracy, while
    # closer steps lose more than that to cancellation in 1 − (1−z)^(a−1)·₂F₁.
    a = fit.a if abs(fit.a - 1) >= 1e-6 else 1 + math.copysign(1e-6, fit.a - 1)
    t, x, t_x, T = _f(t), _f(x), _f(t_x), _f(T)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    hyp = _power_times_hyp2f1(r, a, b, x, z)
    alive = p_alive(fit, x, t_x, T)
    with np.errstate(all="ignore"):
        expected = c / (a - 1) * (1 - hyp) * alive
    # Where every form fails (corners such as r in the hundreds and a in the tens; 0.1% of a sweep over
    # [1e−4, 1e4]⁴) the mean sits at its ceiling to within 0.5%: an immortal customer's t·(r+x)/(α+T),
    # or for a > 1 all their remaining purchases, (a+b+x−1)/(a−1).
    lifetime = c / (a - 1) if a > 1 else np.inf
    ceiling = alive * np.minimum(t * (r + x) / (alpha + T), lifetime)
    return _f(np.clip(np.where(np.isfinite(expected), expected, ceiling), 0.0, ceiling))


def expected_purchases_new(fit: BgNbdFit, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)] = (a+b−1)/(a−1)·[1 − (α/(α+t))^r·₂F₁(r, b; a+b−1; t/(α+t))] for a customer just acquired."""
    return expected_purchases(fit, t, 0.0, 0.0, 0.0)


# --- Gamma-Gamma ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GammaGammaFit:
    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int
    checks: tuple[FitCheck, ...] = ()

    @property
    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.v)


def gamma_gamma_log_likelihood(params: Sequence[float], x: npt.ArrayLike, m: npt.ArrayLike) -> FloatArray:
    """ln f(m | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + px ln x + (px−1) ln m − (px+q) ln(v + x m)."""
    p, q, v = params
    x, m = _f(x), _f(m)
    px = p * x
    return _f(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + px * np.log(x)
        + (px - 1) * np.log(m)
        - (px + q) * np.log(v + x * m)
    )


def fit_gamma_gamma(arrays: SummaryArrays, *, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> GammaGammaFit:
    """argmax over (ln p, ln q, ln v) of Σ ln f(m | x) over customers with x > 0 and m > 0."""
    repeat = (arrays.frequency > 0) & (arrays.monetary > 0)
    n = int(repeat.sum())
    enough = _repeat_buyers(n, min_repeat_buyers, "spend")
    (x, m), weight = _distinct(arrays.frequency[repeat], arrays.monetary[repeat])
    # v is in currency units: fitting spend over its mean keeps the bounds meaningful in yen or euros.
    scale = float(np.average(m, weights=weight))
    scaled = m / scale

    def total(params: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = params
        ll = gamma_gamma_log_likelihood((p, q, v), x, scaled)
        psi = digamma(p * x + q)
        log_share = np.log(v) - np.log(v + x * scaled)
        d_p = x * (psi - digamma(p * x) + np.log(x) + np.log(scaled) - np.log(v + x * scaled))
        d_q = psi - digamma(q) + log_share
        d_v = q / v - (p * x + q) / (v + x * scaled)
        return float(weight @ ll), _f(np.stack([d_p, d_q, d_v]) @ weight)

    # With p = 1, q = 2, v = 1 the population mean spend p·v/(q−1) is the observed mean.
    params, checks = maximize_likelihood(total, (1.0, 2.0, 1.0), n, "spend", ("p", "q", "v"), (enough,))
    p, q, v = (float(value) for value in params)
    if q <= 1:
        raise FitError("The spend model has no finite mean spend (q ≤ 1).", checks)
    v *= scale
    log_likelihood = float(weight @ gamma_gamma_log_likelihood((p, q, v), x, m))
    return GammaGammaFit(p, q, v, log_likelihood, n, checks)


def expected_average_value(fit: GammaGammaFit, x: npt.ArrayLike, m: npt.ArrayLike) -> FloatArray:
    """E[M | x, m] = (q−1)/(px+q−1)·pv/(q−1) + px/(px+q−1)·m; m ≤ 0 counts as no spend evidence (x = 0)."""
    x, m = _f(x), _f(m)
    evidence = np.where(m > 0, x, 0.0)
    px = fit.p * evidence
    weight = px / (px + fit.q - 1)
    return _f((1 - weight) * fit.p * fit.v / (fit.q - 1) + weight * np.where(m > 0, m, 0.0))


# --- CLV --------------------------------------------------------------------------------------------


def clv_arrays(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    arrays: SummaryArrays,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> FloatArray:
    """CLV = Σ_{k=1..months} E[M]·(E[Y(4.345k)] − E[Y(4.345(k−1))]) / (1+rate)^k, per customer."""
    weeks = WEEKS_PER_MONTH * np.arange(months + 1, dtype=np.float64)
    x, t_x, T = (col[:, None] for col in (arrays.frequency, arrays.recency, arrays.T))
    per_month = np.diff(expected_purchases(bg, weeks[None, :], x, t_x, T), axis=1)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1, dtype=np.float64)
    spend = expected_average_value(gg, arrays.frequency, arrays.monetary)
    return _f(spend * (per_month @ discount))


def clv(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    summary: CustomerSummary | None,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> float:
    """clv_arrays for one customer; 0 for a customer with no purchase yet (summary None)."""
    if summary is None:
        return 0.0
    arrays = SummaryArrays.from_summaries([summary])
    return float(clv_arrays(bg, gg, arrays, months=months, monthly_discount_rate=monthly_discount_rate)[0])
