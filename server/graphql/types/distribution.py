from datetime import datetime

import strawberry

from server.graphql.types.enums import Phase
from server.services.distributions import PhaseDistribution as PhaseFigures
from server.services.distributions import RevenueDistribution


@strawberry.type(description="How many profiles show one phase now, by whether their journey is open.")
class PhaseCount:
    phase: Phase | None = strawberry.field(
        description="As `Profile.phase` shows it; null: no phase (no micro-conversion yet, or none now)."
    )
    journey_open: bool = strawberry.field(
        description="The latest journey is still open (no ACTION yet, a micro-conversion within 30 days)."
    )
    count: int


@strawberry.type(description="Every live profile by the phase the API shows for it now.")
class PhaseDistribution:
    as_of: datetime
    profiles: int = strawberry.field(description="Live profiles counted (merged-away ones are not).")
    without_consent: int = strawberry.field(
        description="Profiles without personalization consent: no phase is shown for them, so they "
        "are in no row."
    )
    rows: list[PhaseCount] = strawberry.field(
        description="Phases in journey order (null last), open journeys first; empty rows left out."
    )

    @classmethod
    def of(cls, figures: PhaseFigures) -> "PhaseDistribution":
        return cls(
            as_of=figures.as_of,
            profiles=figures.profiles,
            without_consent=figures.without_consent,
            rows=[
                PhaseCount(phase=r.phase, journey_open=r.journey_open, count=r.count) for r in figures.rows
            ],
        )


@strawberry.type(description="Customers whose net revenue falls in [lower, upper).")
class LtvBucket:
    lower: float | None = strawberry.field(description="Inclusive; null: no lower bound (net refunds).")
    upper: float | None = strawberry.field(description="Exclusive; null: no upper bound.")
    customers: int
    revenue: float = strawberry.field(description="Their net revenue together.")


@strawberry.type(description="Customers by net revenue (orders minus refunds, as `Ltv.revenue`).")
class LtvDistribution:
    customers: int = strawberry.field(description="Customers with an order or a refund in the range.")
    revenue: float
    average_revenue: float = strawberry.field(description="Revenue per such customer; 0 without any.")
    buckets: list[LtvBucket] = strawberry.field(
        description="From the lowest to the highest non-empty bucket, empty ones between kept."
    )

    @classmethod
    def of(cls, figures: RevenueDistribution) -> "LtvDistribution":
        return cls(
            customers=figures.customers,
            revenue=figures.revenue,
            average_revenue=figures.revenue / figures.customers if figures.customers else 0.0,
            buckets=[
                LtvBucket(lower=b.lower, upper=b.upper, customers=b.count, revenue=b.total)
                for b in figures.bins
            ],
        )
