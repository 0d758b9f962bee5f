from datetime import UTC, datetime

import numpy as np
import pytest

from server.domain.customer_value import CustomerValue, LtvModels, fit_models
from server.domain.ltv import (
    BgNbdFit,
    Check,
    CustomerSummary,
    GammaGammaFit,
    Historical,
    clv,
    expected_average_value,
    expected_purchases,
    p_alive,
)
from tests.domain.test_ltv import simulate

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
BG = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, customers=0)
GG = GammaGammaFit(p=6.25, q=3.74, v=15.44, log_likelihood=0.0, customers=0)
REGULAR = CustomerSummary(frequency=4, recency=30.0, T=39.0, monetary_value=35.0)
HISTORY = Historical(175.0, 5, 35.0, AS_OF, AS_OF)
NOTHING = Historical(0.0, 0, 0.0, None, None)


def models(bg: BgNbdFit | None, gg: GammaGammaFit | None) -> LtvModels:
    return LtvModels(
        AS_OF,
        100,
        bg,
        gg,
        None if bg else "The purchase model needs at least 10 repeat buyers.",
        None if gg else "The spend model has no finite fit for this data (q).",
        (),
        (),
    )


def value(summary: CustomerSummary | None, fitted: LtvModels | None) -> CustomerValue:
    return CustomerValue(AS_OF, HISTORY if summary else NOTHING, summary, fitted)


def predictions(v: CustomerValue) -> tuple[float | None, ...]:
    return (v.p_alive(), v.expected_purchases(52.0), v.expected_average_value(), v.clv(12, 0.01))


def test_with_both_models_every_prediction_comes_from_its_model() -> None:
    assert predictions(value(REGULAR, models(BG, GG))) == (
        float(p_alive(BG, 4, 30.0, 39.0)),
        float(expected_purchases(BG, 52.0, 4, 30.0, 39.0)),
        float(expected_average_value(GG, 4, 35.0)),
        clv(BG, GG, REGULAR),
    )
    assert value(REGULAR, models(BG, GG)).unavailable_reason() is None


def test_without_the_spend_model_the_purchase_predictions_remain() -> None:
    v = value(REGULAR, models(BG, None))
    assert predictions(v)[:2] == (
        float(p_alive(BG, 4, 30.0, 39.0)),
        float(expected_purchases(BG, 52.0, 4, 30.0, 39.0)),
    )
    assert predictions(v)[2:] == (None, None)
    assert (
        v.unavailable_reason()
        == "Spend model (Gamma-Gamma) not accepted: The spend model has no finite fit for this data (q)."
    )


def test_without_the_purchase_model_only_the_expected_order_value_remains() -> None:
    v = value(REGULAR, models(None, GG))
    assert predictions(v) == (None, None, float(expected_average_value(GG, 4, 35.0)), None)
    assert (
        v.unavailable_reason()
        == "Purchase model (BG/NBD) not accepted: The purchase model needs at least 10 repeat buyers."
    )


def test_without_any_fit_nothing_is_predicted_and_the_reason_says_so() -> None:
    v = value(REGULAR, None)
    assert predictions(v) == (None, None, None, None)
    assert v.unavailable_reason() == (
        "No LTV model was fitted on data up to `asOf`: run fitModels (with an earlier `asOf`)."
    )


def test_a_customer_without_a_purchase_is_alive_expects_nothing_and_has_the_population_spend() -> None:
    population = GG.p * GG.v / (GG.q - 1)
    assert predictions(value(None, models(BG, GG))) == (1.0, 0.0, pytest.approx(population, rel=1e-12), 0.0)


def test_fitting_reports_each_model_on_its_own() -> None:
    # Repeat buyers who all spend exactly 20: the purchase model fits, the spend model has no maximum.
    arrays = simulate(np.random.default_rng(11), 1000)
    summaries = [
        CustomerSummary(int(x), float(t_x), float(T), 20.0 if x else 0.0)
        for x, t_x, T in zip(arrays.frequency, arrays.recency, arrays.T, strict=True)
    ]
    fitted = fit_models(summaries, AS_OF)
    assert (fitted.bgnbd is not None, fitted.gamma_gamma is None, fitted.customers) == (True, True, 1000)
    assert "no finite fit" in str(fitted.gamma_gamma_error)
    assert [c.check for c in fitted.bgnbd_checks] == [
        Check.REPEAT_BUYERS,
        Check.CONVERGED,
        Check.INTERIOR,
        Check.HESSIAN,
    ]
    assert fitted.gamma_gamma_checks[-1].passed is False
