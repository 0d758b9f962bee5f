import asyncio
from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.domain.attribution import GroupBy, Model
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.attribution import AttributionGroup, AttributionModel, AttributionReport
from server.graphql.types.audience import ReportAudience, report_audience_id
from server.services.analytics import Window


async def _reports(
    info: Info,
    conversion: str | None,
    start: datetime | None,
    end: datetime | None,
    lookback_days: int,
    half_life_days: float,
    group_by: GroupBy,
    audience: strawberry.ID | None,
) -> dict[Model, AttributionReport]:
    window = Window(
        conversion, start, end, lookback_days, half_life_days, group_by, report_audience_id(audience)
    )
    memo = info.context.memo
    if window not in memo:
        # Sibling fields resolve concurrently: they share the one in-flight computation.
        memo[window] = asyncio.ensure_future(
            info.context.services.analytics.attribution(info.context.principal, window)
        )
    reports = await memo[window]
    return {model: AttributionReport.of(report) for model, report in reports.items()}


@strawberry.type(description="An event sequence before conversions, and how often it ends in one.")
class TopPath:
    steps: list[str]
    conversions: int
    journeys: int
    conversion_rate: float


@strawberry.type
class AttributionQueries:
    @strawberry.field(
        description="The most frequent event-name sequences (last 5 steps, repeats collapsed) before a "
        "conversion (`conversion`, default any ACTION-phase event), with their conversion rates.",
        extensions=allow(Role.ANALYST),
    )
    async def top_paths(
        self,
        info: Info,
        conversion: str | None = None,
        first: int = 10,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        lookback_days: int = 30,
        audience: ReportAudience = None,
    ) -> list[TopPath]:
        window = Window(
            conversion, from_, to, lookback_days, 7.0, GroupBy.EVENT, report_audience_id(audience)
        )
        stats = await info.context.services.analytics.top_paths(info.context.principal, window, first)
        return [
            TopPath(
                steps=list(s.steps),
                conversions=s.conversions,
                journeys=s.journeys,
                conversion_rate=s.conversion_rate,
            )
            for s in stats
        ]

    @strawberry.field(
        description="Which channels, campaigns or micro-conversions earned the conversions in [from, to]. "
        "`conversion` names the target event (default: any ACTION-phase event).",
        extensions=allow(Role.ANALYST),
    )
    async def attribution(
        self,
        info: Info,
        model: AttributionModel,
        conversion: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        lookback_days: int = 30,
        half_life_days: float = 7,
        group_by: AttributionGroup = GroupBy.CHANNEL,
        audience: ReportAudience = None,
    ) -> AttributionReport:
        reports = await _reports(
            info, conversion, from_, to, lookback_days, half_life_days, group_by, audience
        )
        return reports[model]

    @strawberry.field(
        description="All seven models side by side over the same paths (one pass over the data).",
        extensions=allow(Role.ANALYST),
    )
    async def attribution_comparison(
        self,
        info: Info,
        conversion: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        lookback_days: int = 30,
        half_life_days: float = 7,
        group_by: AttributionGroup = GroupBy.CHANNEL,
        audience: ReportAudience = None,
    ) -> list[AttributionReport]:
        reports = await _reports(
            info, conversion, from_, to, lookback_days, half_life_days, group_by, audience
        )
        return [reports[model] for model in Model]
