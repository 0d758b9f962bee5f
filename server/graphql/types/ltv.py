from collections.abc import Iterable
from datetime import datetime
from typing import TypeAlias

import strawberry

from server.domain.conversion_drivers import ConversionDriver as DomainConversionDriver
from server.domain.conversion_drivers import Rate
from server.domain.customer_value import CustomerValue
from server.domain.ltv import Check as DomainCheck
from server.domain.ltv import FitCheck as DomainFitCheck
from server.domain.ltv_drivers import Driver
from server.services.models import ModelsReport

Check: TypeAlias = DomainCheck
strawberry.enum(
    DomainCheck,
    name="FitCheckName",
    description="What a model fit must pass to be accepted: enough repeat buyers, convergence, no "
    "parameter at a bound (0 or ∞), and a positive-definite Hessian (a proper, identified maximum).",
)


@strawberry.type(description="One acceptance check of a model fit and what it measured.")
class FitCheck:
    check: Check
    passed: bool
    detail: str

    @classmethod
    def rows(cls, checks: Iterable[DomainFitCheck]) -> list["FitCheck"]:
        return [cls(check=c.check, passed=c.passed, detail=c.detail) for c in checks]


@strawberry.type(description="BG/NBD purchase model parameters (Fader, Hardie & Lee 2005).")
class BgNbdParameters:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int


@strawberry.type(description="Gamma-Gamma spend model parameters (Fader & Hardie 2013).")
class GammaGammaParameters:
    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int


@strawberry.type(description="The conversion-probability model: logistic regression on closed journeys.")
class ConversionModel:
    auc: float | None = strawberry.field(description="ROC AUC on a held-out quarter of the journeys.")
    journeys: int
    conversions: int
    features: int


@strawberry.type(
    description="What a fit produced; a model that was not accepted says why instead, and which check failed."
)
class ModelFitReport:
    bgnbd: BgNbdParameters | None
    gamma_gamma: GammaGammaParameters | None
    bgnbd_error: str | None
    gamma_gamma_error: str | None
    bgnbd_checks: list[FitCheck] = strawberry.field(
        description="The purchase model's checks, in order, up to the first that failed."
    )
    gamma_gamma_checks: list[FitCheck] = strawberry.field(
        description="The spend model's checks, in order, up to the first that failed."
    )
    as_of: datetime
    duration_ms: float
    customers: int
    conversion_model: ConversionModel | None
    conversion_model_error: str | None

    @classmethod
    def of(cls, models: ModelsReport) -> "ModelFitReport":
        report, propensity = models.ltv.models, models.propensity
        bg, gg = report.bgnbd, report.gamma_gamma
        return cls(
            conversion_model=ConversionModel(
                auc=propensity.auc,
                journeys=propensity.journeys,
                conversions=propensity.conversions,
                features=len(propensity.names),
            )
            if propensity
            else None,
            conversion_model_error=models.propensity_error,
            bgnbd=BgNbdParameters(
                r=bg.r,
                alpha=bg.alpha,
                a=bg.a,
                b=bg.b,
                log_likelihood=bg.log_likelihood,
                customers=bg.customers,
            )
            if bg
            else None,
            gamma_gamma=GammaGammaParameters(
                p=gg.p, q=gg.q, v=gg.v, log_likelihood=gg.log_likelihood, customers=gg.customers
            )
            if gg
            else None,
            bgnbd_error=report.bgnbd_error,
            gamma_gamma_error=report.gamma_gamma_error,
            bgnbd_checks=FitCheck.rows(report.bgnbd_checks),
            gamma_gamma_checks=FitCheck.rows(report.gamma_gamma_checks),
            as_of=report.as_of,
            duration_ms=models.ltv.duration_ms,
            customers=report.customers,
        )


@strawberry.type(
    description="A customer's value as of `asOf`: the history up to then, and predictions conditioned on it "
    "from the newest fit on data up to then. Each prediction is null only with `unavailableReason`."
)
class Ltv:
    as_of: datetime = strawberry.field(description="The moment the history and predictions are taken at.")
    model_as_of: datetime | None = strawberry.field(
        description="The `asOf` of the fit the predictions come from (the newest at or before `asOf`)."
    )
    unavailable_reason: str | None = strawberry.field(
        description="Why a prediction below is null: no fit up to `asOf`, or a model that was not accepted."
    )
    revenue: float
    orders: int
    average_order_value: float
    first_purchase: datetime | None
    last_purchase: datetime | None
    value: strawberry.Private[CustomerValue]

    @strawberry.field(description="P(the customer is still active) from BG/NBD; 1 before any purchase.")
    def p_alive(self) -> float | None:
        return self.value.p_alive()

    @strawberry.field(
        description="Expected purchases in the `weeks` after `asOf` (BG/NBD conditional expectation)."
    )
    def expected_purchases(self, weeks: float) -> float | None:
        return self.value.expected_purchases(max(0.0, min(weeks, 520.0)))

    @strawberry.field(
        description="Expected order value (Gamma-Gamma conditional mean; the population mean before any "
        "repeat purchase)."
    )
    def expected_average_order_value(self) -> float | None:
        return self.value.expected_average_value()

    @strawberry.field(description="Σ_k E[spend]·ΔE[X] over `months`, discounted monthly; needs both models.")
    def clv(self, months: int = 12, monthly_discount_rate: float = 0.01) -> float | None:
        return self.value.clv(max(1, min(months, 120)), max(0.0, monthly_discount_rate))

    @classmethod
    def of(cls, value: CustomerValue) -> "Ltv":
        h = value.historical
        return cls(
            as_of=value.as_of,
            model_as_of=value.models.as_of if value.models else None,
            unavailable_reason=value.unavailable_reason(),
            revenue=h.revenue,
            orders=h.orders,
            average_order_value=h.average_order_value,
            first_purchase=h.first_purchase,
            last_purchase=h.last_purchase,
            value=value,
        )


@strawberry.type(
    description="An early micro-conversion (first session, before any purchase, below ACTION) and the value "
    "customers produced after their first session, with it vs. without it (Welch's t)."
)
class LtvDriver:
    event: str
    customers_with: int
    customers_without: int
    mean_with: float
    mean_without: float
    difference: float
    lift: float | None
    ci_low: float | None = strawberry.field(description="95% Welch interval of `difference`.")
    ci_high: float | None
    p_value: float | None = strawberry.field(
        description="Welch's t-test; null when a group has fewer than 30 customers (not tested)."
    )
    q_value: float | None = strawberry.field(
        description="The p-value adjusted by Benjamini–Hochberg across every driver tested in this answer."
    )
    significant: bool = strawberry.field(description="`qValue` ≤ 0.05.")

    @classmethod
    def of(cls, d: Driver) -> "LtvDriver":
        return cls(**vars(d))


@strawberry.type(description="A conversion rate with its 95% Wilson score interval.")
class ConversionRate:
    profiles: int
    converted: int
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, r: Rate) -> "ConversionRate":
        return cls(profiles=r.profiles, converted=r.converted, rate=r.rate, low=r.low, high=r.high)


@strawberry.type(
    description="A micro-conversion's macro-conversion rate: profiles who did it (within `withinDays` of "
    "first being seen, before any purchase) vs. those who did not, converting within those days."
)
class ConversionDriver:
    event: str
    with_: ConversionRate = strawberry.field(name="with")
    without: ConversionRate
    difference: float
    difference_low: float = strawberry.field(
        description="95% Newcombe hybrid score interval of `difference`."
    )
    difference_high: float
    p_value: float | None = strawberry.field(
        description="Fisher's exact test; null when a group has fewer than 30 profiles (not tested)."
    )
    q_value: float | None = strawberry.field(
        description="The p-value adjusted by Benjamini–Hochberg across every micro-conversion tested."
    )
    significant: bool = strawberry.field(description="`qValue` ≤ 0.05.")

    @classmethod
    def of(cls, d: DomainConversionDriver) -> "ConversionDriver":
        return cls(
            event=d.event,
            with_=ConversionRate.of(d.with_),
            without=ConversionRate.of(d.without),
            difference=d.difference,
            difference_low=d.difference_low,
            difference_high=d.difference_high,
            p_value=d.p_value,
            q_value=d.q_value,
            significant=d.significant,
        )
