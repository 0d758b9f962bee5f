"""Conversion probability: the workspace's logistic model, fitted on closed journeys, applied to the
open journey of one profile."""

from collections.abc import Callable, Mapping
from datetime import datetime

import pymongo

from server.domain.access import Principal
from server.domain.event import NO_ACTIVITY, Activity
from server.domain.propensity import (
    NotEnoughJourneys,
    PropensityModel,
    Touchpoint,
    examples,
    features,
    fit,
    probability,
)
from server.domain.scoring import ScoredEvent, open_journey
from server.domain.taxonomy import Phase
from server.services.analytics import ANALYTICS_SECONDS
from server.storage.events import Events
from server.storage.model_fits import ModelFits
from server.storage.workspaces import Workspaces


def _touchpoints(rows: list[tuple[datetime, str, str | None, float, str]]) -> list[Touchpoint]:
    return sorted(
        (
            Touchpoint(ScoredEvent(at, name, float(value or 0.0), Phase[phase] if phase else None), channel)
            for at, name, phase, value, channel in rows
        ),
        key=lambda t: t.event.at,
    )


class PropensityService:
    def __init__(
        self, events: Events, fits: ModelFits, workspaces: Workspaces, clock: Callable[[], datetime]
    ) -> None:
        self._events = events
        self._fits = fits
        self._workspaces = workspaces
        self._clock = clock

    async def fit(self, principal: Principal, as_of: datetime | None) -> PropensityModel | str:
        """The fitted model, or why there is none."""
        as_of = as_of or self._clock()
        workspace = await self._workspaces.get(principal.workspace_id)
        data = []
        with pymongo.timeout(ANALYTICS_SECONDS):
            async for _, rows in self._events.activity(principal.workspace_id, until=as_of):
                data.extend(examples(_touchpoints(rows), as_of, workspace.half_life))
        try:
            model = fit(data)
        except NotEnoughJourneys as error:
            return str(error)
        await self._fits.save_propensity(principal.workspace_id, as_of, model)
        return model

    async def probabilities(
        self, principal: Principal, profile_ids: list[str], activity: Mapping[str, Activity]
    ) -> dict[str, float | None]:
        """P(the open journey converts) per profile, from its activity and one read of the model;
        None before a model exists or without an open journey."""
        model = await self._fits.latest_propensity(principal.workspace_id)
        if model is None:
            return dict.fromkeys(profile_ids)
        workspace = await self._workspaces.get(principal.workspace_id)
        now = self._clock()
        result: dict[str, float | None] = dict.fromkeys(profile_ids)
        for profile_id in profile_ids:
            touchpoints = [
                Touchpoint(ScoredEvent(at, name, value, phase), channel)
                for at, name, phase, value, channel, granted in activity.get(profile_id, NO_ACTIVITY).events
                if granted and at <= now
            ]
            current = {id(e) for e in open_journey([t.event for t in touchpoints], now)}
            journey = [t for t in touchpoints if id(t.event) in current]
            if journey:
                result[profile_id] = probability(model, features(journey, now, workspace.half_life))
        return result
