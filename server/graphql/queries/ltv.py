from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import ReportAudience, report_audience_id
from server.graphql.types.ltv import ConversionDriver, Ltv, LtvDriver


@strawberry.type
class LtvQueries:
    @strawberry.field(
        description="A profile's lifetime value: historical figures and predictions.",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def ltv(
        self,
        info: Info,
        profile_id: strawberry.ID,
        as_of: Annotated[
            datetime | None,
            strawberry.argument(
                description="Condition on the purchases up to this moment (default now), for backtests."
            ),
        ] = None,
    ) -> Ltv | None:
        services, principal = info.context.services, info.context.principal
        if await services.profiles.find(principal, profile_id=str(profile_id)) is None:
            return None
        return Ltv.of(await services.ltv.value(principal, str(profile_id), as_of=as_of))

    @strawberry.field(
        description="Early micro-conversions (first session = first 30 minutes, before any purchase, below "
        "ACTION) of customers first seen in [from, to], ranked by the lift in the value they produced after "
        "that session; q-values by Benjamini–Hochberg; groups under 30 customers are not tested.",
        extensions=allow(Role.ANALYST),
    )
    async def ltv_drivers(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        audience: ReportAudience = None,
    ) -> list[LtvDriver]:
        found = await info.context.services.drivers.ltv(
            info.context.principal, from_, to, report_audience_id(audience)
        )
        return [LtvDriver.of(d) for d in found]

    @strawberry.field(
        description="Per early micro-conversion (within `withinDays` of first being seen, before any "
        "purchase), the conversion rate within those days of profiles who did it vs. did not, largest "
        "difference first.",
        extensions=allow(Role.ANALYST),
    )
    async def conversion_drivers(
        self,
        info: Info,
        within_days: int = 30,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[ConversionDriver]:
        found = await info.context.services.drivers.conversion(info.context.principal, within_days, from_, to)
        return [ConversionDriver.of(d) for d in found]
