from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import ReportAudience, report_audience_id


@strawberry.type(description="One step of a funnel.")
class FunnelStep:
    name: str
    profiles: int
    conversion_from_previous: float | None
    drop_off: int
    median_seconds_from_previous: float | None


@strawberry.type(description="Profiles reaching each step in order, within the window of their first step.")
class Funnel:
    steps: list[FunnelStep]


@strawberry.type
class FunnelQueries:
    @strawberry.field(
        description="An ordered-step funnel over profiles (at most 10 steps).", extensions=allow(Role.ANALYST)
    )
    async def funnel(
        self,
        info: Info,
        steps: list[str],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        window_hours: int = 720,
        audience: ReportAudience = None,
    ) -> Funnel:
        rows = await info.context.services.analytics.funnel(
            info.context.principal,
            steps,
            from_,
            to,
            window_hours,
            report_audience_id(audience),
        )
        return Funnel(steps=[FunnelStep(**vars(r)) for r in rows])
