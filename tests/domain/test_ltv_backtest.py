from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from server.domain.ltv import BgNbdFit, CustomerSummary, Purchase, expected_purchases
from server.domain.ltv_backtest import BacktestRow, compare, holdout_purchases

END = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
FIT = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, customers=0)


def on(day: int, revenue: float = 10.0, hour: int = 12) -> Purchase:
    """A purchase `day` days after the calibration end's day."""
    return Purchase(datetime(2026, 3, 31, hour, tzinfo=UTC) + timedelta(days=day), revenue)


@pytest.mark.parametrize(
    ("purchases", "count"),
    [
        ([on(0)], 0),  # the calibration end's own day belongs to calibration
        ([on(1)], 1),
        ([on(28, hour=23)], 1),  # the holdout's last day
        ([on(29)], 0),
        ([on(3, hour=9), on(3, hour=18)], 1),  # one purchase day, as x counts them
        ([on(5), on(6, -10.0)], 1),  # a refund is no purchase
    ],
)
def test_holdout_counts_purchase_days_in_the_whole_weeks_after_the_calibration_end(
    purchases: list[Purchase], count: int
) -> None:
    assert holdout_purchases(purchases, END, 4) == count


CUSTOMERS = [(CustomerSummary(x, 10.0 + x, 39.0, 20.0), x % 3) for x in range(25)]


def test_deciles_split_by_prediction_highest_first_and_sum_to_the_total() -> None:
    rows = compare(FIT, CUSTOMERS, 39)
    assert [r.group for r in rows] == [*map(str, range(1, 11)), "all"]
    assert [r.customers for r in rows[:-1]] == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    predicted = [r.predicted for r in rows[:-1]]
    assert predicted == sorted(predicted, reverse=True)
    assert sum(predicted) == pytest.approx(rows[-1].predicted, rel=1e-12)
    assert sum(r.actual for r in rows[:-1]) == rows[-1].actual == sum(a for _, a in CUSTOMERS)


def test_the_total_prediction_is_the_sum_of_each_customers_conditional_expectation() -> None:
    expected = sum(float(expected_purchases(FIT, 39.0, s.frequency, s.recency, s.T)) for s, _ in CUSTOMERS)
    assert compare(FIT, CUSTOMERS, 39)[-1] == BacktestRow(
        "all", 25, pytest.approx(expected, rel=1e-12), sum(x % 3 for x in range(25))
    )


def test_fewer_customers_than_deciles_give_one_group_each() -> None:
    rows = compare(FIT, CUSTOMERS[:4], 39)
    assert [(r.group, r.customers) for r in rows] == [("1", 1), ("2", 1), ("3", 1), ("4", 1), ("all", 4)]


def test_no_customer_no_groups() -> None:
    assert compare(FIT, [], 39) == [BacktestRow("all", 0, 0.0, 0)]
    assert np.isfinite(compare(FIT, CUSTOMERS[:1], 4)[-1].predicted)
