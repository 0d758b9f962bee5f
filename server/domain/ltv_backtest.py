"""Backtesting the purchase model: fit on a calibration period, predict the holdout, compare.

The standard check of the BG/NBD literature (Fader, Hardie & Lee 2005, §4): for every customer whose
first purchase falls in the calibration period, E[Y(t) | x, t_x, T] over the t holdout weeks against
the purchases they actually made then, in total and by decile of the prediction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from server.domain.ltv import BgNbdFit, CustomerSummary, Purchase, SummaryArrays, expected_purchases

DECILES = 10


def holdout_purchases(purchases: Sequence[Purchase], calibration_end: datetime, weeks: int) -> int:
    """Purchase days (UTC, orders only, as x counts them) in the `weeks` whole weeks after the
    calibration end's day."""
    first = calibration_end.astimezone(UTC).date()
    last = first + timedelta(weeks=weeks)
    days = {p.at.astimezone(UTC).date() for p in purchases if p.revenue >= 0}
    return sum(1 for day in days if first < day <= last)


@dataclass(frozen=True)
class BacktestRow:
    group: str  # "1" (highest predictions) … "10", or "all"
    customers: int
    predicted: float
    actual: int


def compare(fit: BgNbdFit, customers: Sequence[tuple[CustomerSummary, int]], weeks: int) -> list[BacktestRow]:
    """Σ E[Y(weeks) | x, t_x, T] and Σ actual holdout purchases per decile of the prediction (highest
    first; ties broken by calibration order, so equal predictions split evenly), then for everyone."""
    if not customers:
        return [BacktestRow("all", 0, 0.0, 0)]
    arrays = SummaryArrays.from_summaries([summary for summary, _ in customers])
    predicted = expected_purchases(fit, float(weeks), arrays.frequency, arrays.recency, arrays.T)
    actual = np.array([count for _, count in customers], dtype=np.int64)
    order = np.argsort(-predicted, kind="stable")
    rows = [
        BacktestRow(str(i + 1), len(group), float(predicted[group].sum()), int(actual[group].sum()))
        for i, group in enumerate(np.array_split(order, min(DECILES, len(order))))
    ]
    rows.append(BacktestRow("all", len(customers), float(predicted.sum()), int(actual.sum())))
    return rows
