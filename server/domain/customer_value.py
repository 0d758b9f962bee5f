"""A workspace's fitted LTV models, and what they predict for one customer as of a moment.

Each figure comes from the model it needs and from nothing else: P(alive) and expected purchases from
BG/NBD, the expected order value from Gamma-Gamma, CLV from both. A figure whose model is missing is
None, and `unavailable_reason` says why.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.ltv import (
    BgNbdFit,
    CustomerSummary,
    FitCheck,
    FitError,
    GammaGammaFit,
    Historical,
    SummaryArrays,
    clv,
    expected_average_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
)


@dataclass(frozen=True)
class LtvModels:
    """Both models fitted on the purchases up to `as_of`; a model that was not accepted is None, with
    the reason and the checks it ran."""

    as_of: datetime
    customers: int
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    bgnbd_error: str | None
    gamma_gamma_error: str | None
    bgnbd_checks: tuple[FitCheck, ...]
    gamma_gamma_checks: tuple[FitCheck, ...]


def fit_models(summaries: Sequence[CustomerSummary], as_of: datetime) -> LtvModels:
    """BG/NBD and Gamma-Gamma fitted independently: one failing never withholds the other."""
    arrays = SummaryArrays.from_summaries(summaries)
    bg = gg = None
    bg_error = gg_error = None
    try:
        bg = fit_bgnbd(arrays)
        bg_checks = bg.checks
    except FitError as error:
        bg_error, bg_checks = error.reason, error.checks
    try:
        gg = fit_gamma_gamma(arrays)
        gg_checks = gg.checks
    except FitError as error:
        gg_error, gg_checks = error.reason, error.checks
    return LtvModels(as_of, len(summaries), bg, gg, bg_error, gg_error, bg_checks, gg_checks)


@dataclass(frozen=True)
class CustomerValue:
    """One customer's history up to `as_of` and the predictions `models` make from it."""

    as_of: datetime
    historical: Historical
    summary: CustomerSummary | None  # None: no purchase by `as_of`
    models: LtvModels | None  # None: nothing fitted on data up to `as_of`

    @property
    def _bgnbd(self) -> BgNbdFit | None:
        return self.models.bgnbd if self.models else None

    @property
    def _gamma_gamma(self) -> GammaGammaFit | None:
        return self.models.gamma_gamma if self.models else None

    def p_alive(self) -> float | None:
        """P(alive | x, t_x, T); 1 before any purchase (nobody can leave before they arrived)."""
        if (bg := self._bgnbd) is None:
            return None
        if (s := self.summary) is None:
            return 1.0
        return float(p_alive(bg, s.frequency, s.recency, s.T))

    def expected_purchases(self, weeks: float) -> float | None:
        """E[Y(weeks) | x, t_x, T]; 0 before any purchase (BG/NBD starts at the first one)."""
        if (bg := self._bgnbd) is None:
            return None
        if (s := self.summary) is None:
            return 0.0
        return float(expected_purchases(bg, weeks, s.frequency, s.recency, s.T))

    def expected_average_value(self) -> float | None:
        """E[M | x, m]; the population mean p·v/(q−1) without repeat-spend evidence."""
        if (gg := self._gamma_gamma) is None:
            return None
        s = self.summary
        return float(expected_average_value(gg, s.frequency if s else 0, s.monetary_value if s else 0.0))

    def clv(self, months: int, monthly_discount_rate: float) -> float | None:
        """Discounted Σ E[M]·ΔE[Y] over `months`; 0 before any purchase."""
        bg, gg = self._bgnbd, self._gamma_gamma
        if bg is None or gg is None:
            return None
        return clv(bg, gg, self.summary, months=months, monthly_discount_rate=monthly_discount_rate)

    def unavailable_reason(self) -> str | None:
        """Why some prediction is None; None when every prediction is there."""
        if self.models is None:
            return "No LTV model was fitted on data up to `asOf`: run fitModels (with an earlier `asOf`)."
        reasons = []
        if self.models.bgnbd is None:
            reasons.append(f"Purchase model (BG/NBD) not accepted: {self.models.bgnbd_error}")
        if self.models.gamma_gamma is None:
            reasons.append(f"Spend model (Gamma-Gamma) not accepted: {self.models.gamma_gamma_error}")
        return " ".join(reasons) or None
