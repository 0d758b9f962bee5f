"""Attribution over a workspace's journeys: one aggregation builds the paths, every model reuses them."""

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pymongo

from server.domain.access import Principal
from server.domain.attribution import (
    Accumulator,
    GroupBy,
    Model,
    Path,
    Report,
    TimelineEvent,
    paths_for_profile,
)
from server.domain.audience import membership_as_of
from server.domain.errors import InvalidInput
from server.domain.funnel import Step, funnel, progress
from server.domain.top_paths import PathStat, top_paths
from server.domain.workspace import PAID_CHANNELS
from server.storage.audiences import Audiences
from server.storage.events import Events
from server.storage.workspaces import Workspaces


@dataclass(frozen=True)
class Window:
    """What one attribution question is about; equal windows share one pass over the data."""

    conversion: str | None
    start: datetime | None
    end: datetime | None
    lookback_days: int
    half_life_days: float
    group_by: GroupBy
    audience: str | None = None  # only the audience's members as of `end` (if past), else now


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


MAX_STEPS = 10


# Aggregations over a whole workspace may take longer than a request's usual database budget.
ANALYTICS_SECONDS = 300.0


def check_range(start: datetime | None, end: datetime | None) -> None:
    """A date range's `from` may not be after its `to` (INVALID_WINDOW)."""
    if start and end and start > end:
        raise InvalidInput("`from` must be at or before `to`.", field="from", code="INVALID_WINDOW")


def _check(window: Window) -> None:
    if not 1 <= window.lookback_days <= 365:
        raise InvalidInput(
            "`lookbackDays` must be between 1 and 365.", field="lookbackDays", code="OUT_OF_RANGE"
        )
    if not 0 < window.half_life_days <= 365:
        raise InvalidInput(
            "`halfLifeDays` must be above 0 and at most 365.", field="halfLifeDays", code="OUT_OF_RANGE"
        )
    check_range(window.start, window.end)


class AnalyticsService:
    def __init__(
        self, events: Events, workspaces: Workspaces, clock: Callable[[], datetime], audiences: Audiences
    ) -> None:
        self._events = events
        self._workspaces = workspaces
        self._clock = clock
        self._audiences = audiences

    async def _paths(self, principal: Principal, window: Window) -> AsyncIterator[Path]:
        workspace = await self._workspaces.get(principal.workspace_id)
        paid = PAID_CHANNELS if workspace.paid_touches_need_advertising else ()
        """Every converting and non-converting path of the window, one profile at a time."""
        lookback = timedelta(days=window.lookback_days)
        # Touches older than the lookback before `from` cannot earn credit in the window.
        since = window.start - lookback if window.start else None
        with pymongo.timeout(ANALYTICS_SECONDS):
            async for profile_id, rows in self._events.timelines(
                principal.workspace_id,
                conversion=window.conversion,
                since=since,
                until=window.end,
                paid_channels_need_advertising=paid,
                audience=await self._audiences.restriction(
                    principal.workspace_id, window.audience, as_of=membership_as_of(window.end, self._clock())
                ),
            ):
                timeline = sorted(
                    (
                        TimelineEvent(
                            at=at,
                            channel=channel,
                            campaign=campaign,
                            event=event,
                            conversion=bool(conv),
                            value=_number(value),
                        )
                        for at, channel, campaign, event, conv, value in rows
                    ),
                    key=lambda e: e.at,
                )
                for path in paths_for_profile(
                    profile_id, timeline, lookback=lookback, start=window.start, end=window.end
                ):
                    yield path

    async def top_paths(self, principal: Principal, window: Window, first: int) -> list[PathStat]:
        """The most frequent event sequences before a conversion, with their conversion rates."""
        _check(window)
        return top_paths(
            [path async for path in self._paths(principal, window)], first=max(1, min(first, 100))
        )

    async def attribution(self, principal: Principal, window: Window) -> dict[Model, Report]:
        """Every model's report for the window, from a single aggregation and a single pass."""
        _check(window)
        workspace = await self._workspaces.get(principal.workspace_id)
        accumulator = Accumulator(
            group_by=window.group_by,
            half_life=timedelta(days=window.half_life_days),
            min_profiles=workspace.min_report_profiles,
        )
        async for path in self._paths(principal, window):
            accumulator.add(path)
        return {model: accumulator.report(model) for model in Model}

    async def funnel(
        self,
        principal: Principal,
        steps: list[str],
        start: datetime | None,
        end: datetime | None,
        window_hours: int,
        audience: str | None = None,
    ) -> list[Step]:
        """Profiles reaching each step in order within `window_hours` of their first step."""
        if not 1 <= len(steps) <= MAX_STEPS:
            raise InvalidInput(
                f"`steps` takes 1 to {MAX_STEPS} event names.", field="steps", code="OUT_OF_RANGE"
            )
        check_range(start, end)
        if not 1 <= window_hours <= 24 * 365:
            raise InvalidInput(
                "`windowHours` must be between 1 and 8760.", field="windowHours", code="OUT_OF_RANGE"
            )
        window = timedelta(hours=window_hours)
        with pymongo.timeout(ANALYTICS_SECONDS):
            progresses = [
                reached
                async for sequence in self._events.step_sequences(
                    principal.workspace_id,
                    names=sorted(set(steps)),
                    since=start,
                    until=end,
                    audience=await self._audiences.restriction(
                        principal.workspace_id, audience, as_of=membership_as_of(end, self._clock())
                    ),
                )
                if (reached := progress(sequence, steps, window))
            ]
        return funnel(progresses, steps)
