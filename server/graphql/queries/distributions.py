from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import ReportAudience, report_audience_id
from server.graphql.types.distribution import LtvDistribution, PhaseDistribution


@strawberry.type
class DistributionQueries:
    @strawberry.field(
        description="How many profiles show each phase now, over every live profile (counted by the "
        "database, by the same rule as `Profile.phase`). With `from`/`to`: profiles whose scored "
        "activity overlaps that range.",
        extensions=allow(Role.ANALYST),
    )
    async def phase_distribution(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> PhaseDistribution:
        found = await info.context.services.distributions.phases(info.context.principal, from_, to)
        return PhaseDistribution.of(found)

    @strawberry.field(
        description="Customers by net revenue from their orders and refunds in [from, to] (default: "
        "everything up to now, which is `Ltv.revenue`), counted by the database. `boundaries` cut "
        "the buckets (1 to 50 increasing numbers; default 0, 1, 2, 5, 10, 20, 50, … 10,000,000).",
        extensions=allow(Role.ANALYST),
    )
    async def ltv_distribution(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        boundaries: list[float] | None = None,
        audience: ReportAudience = None,
    ) -> LtvDistribution:
        found = await info.context.services.distributions.revenue(
            info.context.principal, from_, to, boundaries, report_audience_id(audience)
        )
        return LtvDistribution.of(found)
