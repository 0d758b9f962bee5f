from datetime import datetime

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.ltv import ModelFitReport


@strawberry.type
class FitModels:
    @strawberry.mutation(
        description="Fit the LTV and conversion-probability models on data up to `asOf` (default now).",
        extensions=allow(Role.ANALYST),
    )
    async def fit_models(self, info: Info, as_of: datetime | None = None) -> ModelFitReport:
        return ModelFitReport.of(await info.context.services.models.fit(info.context.principal, as_of))
