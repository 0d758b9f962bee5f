from datetime import datetime

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.ltv import ModelFitReport


@strawberry.type
class FitModels:
    @strawberry.mutation(
        description="Fit the BG/NBD and Gamma-Gamma models on purchases up to `asOf` (default now).",
        extensions=allow(Role.ANALYST),
    )
    async def fit_models(self, info: Info, as_of: datetime | None = None) -> ModelFitReport:
        report = await info.context.services.ltv.fit(info.context.principal, as_of)
        return ModelFitReport.of(report)
