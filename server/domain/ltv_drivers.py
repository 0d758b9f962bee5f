"""LTV drivers (DESIGN §8): which first-session micro-conversions are followed by a higher lifetime value.

For every event name, customers split into those who did it in their first session and those who did
not; the driver compares the two groups' mean LTV. It is an association, not a cause: early zoomers
may simply be the customers who were going to buy anyway.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]

FIRST_SESSION = timedelta(minutes=30)


def first_session_events(
    events: Sequence[tuple[datetime, str]], window: timedelta = FIRST_SESSION
) -> frozenset[str]:
    """Names of the events at t with first ≤ t < first + window, first being the earliest event."""
    if not events:
        return frozenset()
    first = min(at for at, _ in events)
    return frozenset(name for at, name in events if at - first < window)


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
    significant: bool


def _welch_interval(with_: FloatArray, without: FloatArray, confidence: float) -> tuple[float, float] | None:
    """(x̄₁ − x̄₀) ± t_{(1+c)/2, ν}·√(s₁²/n₁ + s₀²/n₀), ν by Welch–Satterthwaite; None if a group has < 2."""
    if len(with_) < 2 or len(without) < 2:
        return None
    difference = float(with_.mean() - without.mean())
    share_with = with_.var(ddof=1) / len(with_)
    share_without = without.var(ddof=1) / len(without)
    se2 = share_with + share_without
    if se2 == 0:
        return (difference, difference)
    df = se2**2 / (share_with**2 / (len(with_) - 1) + share_without**2 / (len(without) - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * float(np.sqrt(se2))
    return (difference - half, difference + half)


def drivers(
    customers: Sequence[tuple[frozenset[str], float]], *, min_group: int = 30, confidence: float = 0.95
) -> list[Driver]:
    """Per event: mean LTV with/without, lift = mean_with/mean_without − 1, Welch CI; by lift, None last."""
    ltv = np.array([value for _, value in customers], dtype=np.float64)
    names = sorted({name for seen, _ in customers for name in seen})
    row = {name: i for i, name in enumerate(names)}
    member = np.zeros((len(names), len(customers)), dtype=bool)
    member[
        [row[name] for seen, _ in customers for name in seen],
        [j for j, (seen, _) in enumerate(customers) for _ in seen],
    ] = True
    result = []
    for name, did in zip(names, member, strict=True):
        with_, without = ltv[did], ltv[~did]
        # Seen by every customer: nothing to compare against.
        if len(without) == 0:
            continue
        mean_with, mean_without = float(with_.mean()), float(without.mean())
        interval = _welch_interval(with_, without, confidence)
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
                ci_low=None if interval is None else interval[0],
                ci_high=None if interval is None else interval[1],
                significant=(
                    min(len(with_), len(without)) >= min_group
                    and interval is not None
                    and (interval[0] > 0 or interval[1] < 0)
                ),
            )
        )
    return sorted(result, key=lambda d: (d.lift is None, -(d.lift or 0.0), d.event))
