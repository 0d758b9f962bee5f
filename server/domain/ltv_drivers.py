"""LTV drivers (DESIGN §8): which early micro-conversions are followed by a higher lifetime value.

A customer's early micro-conversions are the events with a taxonomy phase below ACTION that they did
in their first session (the 30 minutes after their first event) before any purchase: the behaviour
the feature exists to find (a zoom, the size guide, reviews), not the purchase flow itself. The outcome
is the value they produced after that first session. For every such event, customers split into
those who did it and those who did not; the driver compares the two groups' mean value with Welch's
t-test, and the p-values of all drivers tested are adjusted together (Benjamini–Hochberg), since
twenty comparisons at 5% find one "effect" by chance. It is an association, not a cause: early
zoomers may simply be the customers who were going to buy anyway.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy import stats

from server.domain.taxonomy import Phase

FloatArray = npt.NDArray[np.float64]

FIRST_SESSION = timedelta(minutes=30)
FALSE_DISCOVERY_RATE = 0.05


def early_micro_conversions(
    firsts: Mapping[str, tuple[Phase | None, datetime]], first_purchase: datetime | None
) -> frozenset[str]:
    """Names with a phase below ACTION first seen strictly before the first purchase (all, without one)."""
    return frozenset(
        name
        for name, (phase, at) in firsts.items()
        if phase is not None and phase is not Phase.ACTION and (first_purchase is None or at < first_purchase)
    )


@dataclass(frozen=True)
class Driver:
    event: str
    customers_with: int
    customers_without: int
    mean_with: float
    mean_without: float
    difference: float
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # Welch's t-test; None when not tested (a group under `min_group`)
    q_value: float | None  # Benjamini–Hochberg adjusted across the tested drivers
    significant: bool  # q ≤ 5%


def _welch(with_: FloatArray, without: FloatArray, confidence: float) -> tuple[float, float, float] | None:
    """(low, high, p) of x̄₁ − x̄₀ ± t_{(1+c)/2, ν}·√(s₁²/n₁ + s₀²/n₀), ν by Welch–Satterthwaite, p by
    Welch's t-test; None if a group has < 2."""
    if len(with_) < 2 or len(without) < 2:
        return None
    difference = float(with_.mean() - without.mean())
    var_with, var_without = float(with_.var(ddof=1)), float(without.var(ddof=1))
    share_with, share_without = var_with / len(with_), var_without / len(without)
    se2 = share_with + share_without
    if se2 == 0:
        return (difference, difference, 1.0 if difference == 0 else 0.0)
    df = se2**2 / (share_with**2 / (len(with_) - 1) + share_without**2 / (len(without) - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * float(np.sqrt(se2))
    # From the summary statistics: scipy's moment check warns on groups of identical values.
    test = stats.ttest_ind_from_stats(
        with_.mean(),
        np.sqrt(var_with),
        len(with_),
        without.mean(),
        np.sqrt(var_without),
        len(without),
        equal_var=False,
    )
    return (difference - half, difference + half, float(test.pvalue))


def adjusted(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg q-values (scipy's false_discovery_control), in the order given."""
    return [float(q) for q in stats.false_discovery_control(p_values)] if p_values else []


def drivers(
    customers: Sequence[tuple[frozenset[str], float]], *, min_group: int = 30, confidence: float = 0.95
) -> list[Driver]:
    """Per event: mean value with/without, lift = mean_with/mean_without − 1, Welch CI and p; q-values
    by Benjamini–Hochberg over the events whose groups both reach `min_group`; by lift, None last."""
    value = np.array([v for _, v in customers], dtype=np.float64)
    names = sorted({name for seen, _ in customers for name in seen})
    rows = []
    for name in names:
        did = np.array([name in seen for seen, _ in customers], dtype=bool)
        with_, without = value[did], value[~did]
        # Seen by every customer: nothing to compare against.
        if len(without) == 0:
            continue
        welch = _welch(with_, without, confidence)
        tested = welch is not None and min(len(with_), len(without)) >= min_group
        rows.append((name, with_, without, welch, tested))
    q_values = iter(adjusted([welch[2] for *_, welch, tested in rows if tested and welch is not None]))
    result = []
    for name, with_, without, welch, tested in rows:
        mean_with, mean_without = float(with_.mean()), float(without.mean())
        q = next(q_values) if tested else None
        result.append(
            Driver(
                event=name,
                customers_with=len(with_),
                customers_without=len(without),
                mean_with=mean_with,
                mean_without=mean_without,
                difference=mean_with - mean_without,
                # A ratio to a zero or negative (refund-heavy) baseline has no meaning as a lift.
                lift=mean_with / mean_without - 1 if mean_without > 0 else None,
                ci_low=welch[0] if welch else None,
                ci_high=welch[1] if welch else None,
                p_value=welch[2] if tested and welch else None,
                q_value=q,
                significant=q is not None and q <= FALSE_DISCOVERY_RATE,
            )
        )
    return sorted(result, key=lambda d: (d.lift is None, -(d.lift or 0.0), d.event))
