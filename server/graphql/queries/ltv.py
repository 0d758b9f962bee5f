from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.ltv import Ltv, LtvDriver


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
        return Ltv.of(await services.ltv.value(principal, str(profile_id), as_of))

    @strawberry.field(
        description="First-session micro-conversions (first 30 minutes) of customers first seen in "
        "[from, to], "
        "ranked by the lift in LTV that follows them; groups under 30 customers are not significant.",
        extensions=allow(Role.ANALYST),
    )
    async def ltv_drivers(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[LtvDriver]:
        found = await info.context.services.ltv.drivers(info.context.principal, from_, to)
        return [LtvDriver.of(d) for d in found]
