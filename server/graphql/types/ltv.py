from datetime import datetime

import strawberry

from server.domain.ltv_drivers import Driver
from server.services.ltv import CustomerValue
from server.services.models import ModelsReport


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


@strawberry.type(description="What a fit produced; a model that could not be fitted says why instead.")
class ModelFitReport:
    bgnbd: BgNbdParameters | None
    gamma_gamma: GammaGammaParameters | None
    bgnbd_error: str | None
    gamma_gamma_error: str | None
    as_of: datetime
    duration_ms: float
    customers: int
    conversion_model: ConversionModel | None
    conversion_model_error: str | None

    @classmethod
    def of(cls, models: ModelsReport) -> "ModelFitReport":
        report, propensity = models.ltv, models.propensity
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
            as_of=report.as_of,
            duration_ms=report.duration_ms,
            customers=report.customers,
        )


@strawberry.type(description="A customer's value: history, and predictions from the workspace's latest fit.")
class Ltv:
    revenue: float
    orders: int
    average_order_value: float
    first_purchase: datetime | None
    last_purchase: datetime | None
    value: strawberry.Private[CustomerValue]

    @strawberry.field(description="P(the customer is still active); null until models are fitted.")
    def p_alive(self) -> float | None:
        prediction = self.value.prediction()
        return prediction.p_alive if prediction else None

    @strawberry.field(description="Expected purchases in the next `weeks` (BG/NBD conditional expectation).")
    def expected_purchases(self, weeks: float) -> float | None:
        return self.value.expected_purchases(max(0.0, min(weeks, 520.0)))

    @strawberry.field(description="Expected order value (Gamma-Gamma conditional mean).")
    def expected_average_order_value(self) -> float | None:
        prediction = self.value.prediction()
        return prediction.expected_average_value if prediction else None

    @strawberry.field(description="Σ_k E[spend]·ΔE[X] over `months`, discounted monthly.")
    def clv(self, months: int = 12, monthly_discount_rate: float = 0.01) -> float | None:
        prediction = self.value.prediction(max(1, min(months, 120)), max(0.0, monthly_discount_rate))
        return prediction.clv if prediction else None

    @classmethod
    def of(cls, value: CustomerValue) -> "Ltv":
        h = value.historical
        return cls(
            revenue=h.revenue,
            orders=h.orders,
            average_order_value=h.average_order_value,
            first_purchase=h.first_purchase,
            last_purchase=h.last_purchase,
            value=value,
        )


@strawberry.type(description="An early micro-conversion and the LTV of customers who did it vs. did not.")
class LtvDriver:
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

    @classmethod
    def of(cls, d: Driver) -> "LtvDriver":
        return cls(**vars(d))
