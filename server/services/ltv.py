"""Lifetime value: historical figures, the per-workspace BG/NBD + Gamma-Gamma fit, and backtests."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
import pymongo

from server.domain.access import Principal
from server.domain.customer_value import CustomerValue, LtvModels, fit_models
from server.domain.errors import InvalidInput
from server.domain.event import NO_ACTIVITY, Activity
from server.domain.ltv import Purchase, historical, summarize
from server.domain.ltv_backtest import BacktestRow, compare, holdout_purchases
from server.domain.paging import PAGE_READ_SECONDS
from server.services.analytics import ANALYTICS_SECONDS
from server.services.audit import AuditService
from server.storage.events import Events
from server.storage.model_fits import ModelFits


@dataclass(frozen=True)
class FitReport:
    models: LtvModels
    duration_ms: float


@dataclass(frozen=True)
class Backtest:
    calibration_end: datetime
    holdout_weeks: int
    models: LtvModels
    rows: list[BacktestRow]  # by decile of the prediction, then "all"; empty without a purchase model


class LtvService:
    def __init__(
        self, events: Events, fits: ModelFits, audit: AuditService, clock: Callable[[], datetime]
    ) -> None:
        self._events = events
        self._fits = fits
        self._audit = audit
        self._clock = clock

    async def fit(self, principal: Principal, as_of: datetime | None) -> FitReport:
        """Fit both models on every customer's purchases at or before `as_of` (default: now)."""
        as_of = as_of or self._clock()
        started = time.perf_counter()
        summaries = []
        with pymongo.timeout(ANALYTICS_SECONDS):
            async for _, rows in self._events.purchases(principal.workspace_id, until=as_of):
                summary = summarize([Purchase(at, float(revenue)) for at, revenue in rows], as_of)
                if summary is not None:
                    summaries.append(summary)
        # The optimizer is CPU-bound: it runs off the event loop so other requests go on.
        models = await anyio.to_thread.run_sync(fit_models, summaries, as_of)
        report = FitReport(models, (time.perf_counter() - started) * 1000)
        await self._fits.save_ltv(principal.workspace_id, models, report.duration_ms)
        await self._audit.record(principal, "models.fitted", details={"customers": models.customers})
        return report

    async def value(
        self, principal: Principal, profile_id: str, *, as_of: datetime | None = None
    ) -> CustomerValue:
        with pymongo.timeout(PAGE_READ_SECONDS):
            activity = await self._events.activity_of(principal.workspace_id, [profile_id])
        return (await self.values(principal, [profile_id], activity, as_of=as_of))[profile_id]

    async def values(
        self,
        principal: Principal,
        profile_ids: list[str],
        activity: Mapping[str, Activity],
        *,
        as_of: datetime | None = None,
    ) -> dict[str, CustomerValue]:
        """Each profile's history up to `as_of` (default now), from its activity, and the predictions
        of the newest fit on data up to then, conditioned on the same history (what a backtest
        compares with what came): one read of the fit, whatever their number."""
        as_of = as_of or self._clock()
        models = await self._fits.ltv_until(principal.workspace_id, as_of)
        values = {}
        for profile_id in profile_ids:
            bought = [
                Purchase(at, revenue)
                for at, revenue in activity.get(profile_id, NO_ACTIVITY).purchases
                if at <= as_of
            ]
            values[profile_id] = CustomerValue(as_of, historical(bought), summarize(bought, as_of), models)
        return values

    async def backtest(self, principal: Principal, calibration_end: datetime, holdout_weeks: int) -> Backtest:
        """Fit on the purchases up to `calibration_end` (nothing is stored) and compare the expected
        purchases of the `holdout_weeks` after it with the actual ones."""
        if not 1 <= holdout_weeks <= 520:
            raise InvalidInput(
                "The holdout must be between 1 and 520 weeks.", field="holdoutWeeks", code="OUT_OF_RANGE"
            )
        if calibration_end + timedelta(weeks=holdout_weeks) > self._clock():
            raise InvalidInput(
                "The holdout must have ended: the calibration end plus the holdout weeks is in the future.",
                field="calibrationEnd",
                code="INVALID_WINDOW",
            )
        customers = []
        holdout_end = calibration_end + timedelta(weeks=holdout_weeks)
        with pymongo.timeout(ANALYTICS_SECONDS):
            async for _, rows in self._events.purchases(principal.workspace_id, until=holdout_end):
                purchases = [Purchase(at, float(revenue)) for at, revenue in rows]
                summary = summarize(purchases, calibration_end)
                if summary is not None:
                    customers.append((summary, holdout_purchases(purchases, calibration_end, holdout_weeks)))
        models = await anyio.to_thread.run_sync(fit_models, [s for s, _ in customers], calibration_end)
        deciles = compare(models.bgnbd, customers, holdout_weeks) if models.bgnbd else []
        return Backtest(calibration_end, holdout_weeks, models, deciles)
