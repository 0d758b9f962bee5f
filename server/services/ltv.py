"""Lifetime value: historical figures, the per-workspace BG/NBD + Gamma-Gamma fit, and early drivers."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
import pymongo

from server.domain.access import Principal
from server.domain.ltv import (
    BgNbdFit,
    CustomerSummary,
    FitError,
    GammaGammaFit,
    Historical,
    Purchase,
    SummaryArrays,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    historical,
    predict,
    summarize,
)
from server.domain.ltv_drivers import Driver, drivers, first_session_events
from server.domain.paging import PAGE_READ_SECONDS
from server.services.analytics import ANALYTICS_SECONDS
from server.services.audit import AuditService
from server.storage.events import Events
from server.storage.model_fits import ModelFits

KIND = "ltv"


@dataclass(frozen=True)
class FitReport:
    as_of: datetime
    duration_ms: float
    customers: int
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    bgnbd_error: str | None
    gamma_gamma_error: str | None


@dataclass(frozen=True)
class CustomerValue:
    """One profile's LTV: history, and what the stored fit (if any) predicts from it."""

    historical: Historical
    summary: CustomerSummary | None
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None

    def prediction(self, months: int = 12, monthly_discount_rate: float = 0.01) -> Any:
        if self.bgnbd is None or self.gamma_gamma is None:
            return None
        return predict(
            self.bgnbd,
            self.gamma_gamma,
            self.summary,
            months=months,
            monthly_discount_rate=monthly_discount_rate,
        )

    def expected_purchases(self, weeks: float) -> float | None:
        if self.bgnbd is None:
            return None
        if self.summary is None:
            return 0.0
        s = self.summary
        return float(expected_purchases(self.bgnbd, weeks, s.frequency, s.recency, s.T))


def _fit(
    summaries: list[CustomerSummary],
) -> tuple[BgNbdFit | None, GammaGammaFit | None, str | None, str | None]:
    arrays = SummaryArrays.from_summaries(summaries)
    bg = gg = None
    bg_error = gg_error = None
    try:
        bg = fit_bgnbd(arrays)
    except FitError as error:
        bg_error = error.reason
    try:
        gg = fit_gamma_gamma(arrays)
    except FitError as error:
        gg_error = error.reason
    return bg, gg, bg_error, gg_error


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars as Python numbers, which BSON can store."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}


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
        bg, gg, bg_error, gg_error = await anyio.to_thread.run_sync(_fit, summaries)
        report = FitReport(
            as_of, (time.perf_counter() - started) * 1000, len(summaries), bg, gg, bg_error, gg_error
        )
        await self._fits.save(
            principal.workspace_id,
            KIND,
            as_of,
            {
                "bgnbd": _plain(asdict(bg)) if bg else None,
                "gamma_gamma": _plain(asdict(gg)) if gg else None,
                "bgnbd_error": bg_error,
                "gamma_gamma_error": gg_error,
                "customers": len(summaries),
                "duration_ms": report.duration_ms,
            },
        )
        await self._audit.record(principal, "models.fitted", details={"customers": len(summaries)})
        return report

    async def value(
        self, principal: Principal, profile_id: str, *, as_of: datetime | None = None
    ) -> CustomerValue:
        return (await self.values(principal, [profile_id], as_of=as_of))[profile_id]

    async def values(
        self, principal: Principal, profile_ids: list[str], *, as_of: datetime | None = None
    ) -> dict[str, CustomerValue]:
        """Each profile's LTV as of `as_of` (default: now): one aggregation for all their purchases
        and one read of the latest fit, whatever the number of profiles."""
        at = as_of or self._clock()
        purchases: dict[str, list[Purchase]] = {profile_id: [] for profile_id in profile_ids}
        with pymongo.timeout(PAGE_READ_SECONDS):
            async for profile_id, rows in self._events.purchases_of(
                principal.workspace_id, profile_ids, until=at
            ):
                purchases[profile_id] = [Purchase(when, float(revenue)) for when, revenue in rows]
        stored = await self._fits.latest(principal.workspace_id, KIND)
        bg = BgNbdFit(**stored["bgnbd"]) if stored and stored.get("bgnbd") else None
        gg = GammaGammaFit(**stored["gamma_gamma"]) if stored and stored.get("gamma_gamma") else None
        return {
            profile_id: CustomerValue(historical(bought), summarize(bought, at), bg, gg)
            for profile_id, bought in purchases.items()
        }

    async def drivers(
        self, principal: Principal, start: datetime | None, end: datetime | None
    ) -> list[Driver]:
        """Which first-session micro-conversions are followed by higher revenue."""
        revenue: dict[str, float] = {}
        with pymongo.timeout(ANALYTICS_SECONDS):
            async for profile_id, rows in self._events.purchases(principal.workspace_id, until=None):
                revenue[profile_id] = historical([Purchase(at, float(r)) for at, r in rows]).revenue
            customers = [
                (first_session_events(sorted(events)), revenue.get(profile_id, 0.0))
                async for profile_id, events in self._events.first_sessions(
                    principal.workspace_id, since=start, until=end
                )
            ]
        return drivers(customers)
