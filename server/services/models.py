"""Fitting every per-workspace model at once: LTV (BG/NBD + Gamma-Gamma) and conversion propensity."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from server.domain.access import Principal
from server.domain.propensity import PropensityModel
from server.services.ltv import FitReport, LtvService
from server.services.propensity import PropensityService


@dataclass(frozen=True)
class ModelsReport:
    ltv: FitReport
    propensity: PropensityModel | None
    propensity_error: str | None


class ModelService:
    def __init__(
        self,
        ltv: LtvService,
        propensity: PropensityService,
        fitted: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._ltv = ltv
        self._propensity = propensity
        self._fitted = fitted  # told the workspace after a fit (audiences reading model outputs)

    async def fit(self, principal: Principal, as_of: datetime | None) -> ModelsReport:
        ltv = await self._ltv.fit(principal, as_of)
        propensity = await self._propensity.fit(principal, ltv.models.as_of)
        if self._fitted is not None:
            await self._fitted(principal.workspace_id)
        if isinstance(propensity, str):
            return ModelsReport(ltv, None, propensity)
        return ModelsReport(ltv, propensity, None)
