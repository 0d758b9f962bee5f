"""Early drivers: which early micro-conversions go with more value later, or with converting at all."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pymongo

from server.domain.access import Principal
from server.domain.audience import membership_as_of
from server.domain.conversion_drivers import ConversionDriver, conversion_drivers
from server.domain.errors import InvalidInput
from server.domain.ltv_drivers import FIRST_SESSION, Driver, drivers, early_micro_conversions
from server.domain.taxonomy import Phase
from server.services.analytics import ANALYTICS_SECONDS
from server.storage.audiences import Audiences
from server.storage.early_activity import EarlyActivities, EarlyActivity


def _early(start: EarlyActivity) -> frozenset[str]:
    firsts = {name: (Phase[phase] if phase else None, at) for name, (phase, at) in start.firsts.items()}
    return early_micro_conversions(firsts, start.first_purchase)


def _window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidInput("`from` must not be after `to`.", field="from", code="INVALID_WINDOW")


class DriverService:
    def __init__(
        self, activities: EarlyActivities, audiences: Audiences, clock: Callable[[], datetime]
    ) -> None:
        self._activities = activities
        self._audiences = audiences
        self._clock = clock

    async def ltv(
        self, principal: Principal, start: datetime | None, end: datetime | None, audience: str | None = None
    ) -> list[Driver]:
        """Customers first seen in [start, end] (of them, the audience's members as of `end` if that is
        past, else its current members, if given):
        their first session's micro-conversions before any purchase, against the value they produced
        after that session."""
        _window(start, end)
        restriction = await self._audiences.restriction(
            principal.workspace_id, audience, as_of=membership_as_of(end, self._clock())
        )
        with pymongo.timeout(ANALYTICS_SECONDS):
            customers = [
                (_early(s), s.value_after)
                async for s in self._activities.starts(
                    principal.workspace_id, window=FIRST_SESSION, since=start, until=end, audience=restriction
                )
            ]
        return drivers(customers)

    async def conversion(
        self, principal: Principal, within_days: int, start: datetime | None, end: datetime | None
    ) -> list[ConversionDriver]:
        """Profiles first seen in [start, end]: their micro-conversions within `within_days` before any
        purchase, against whether they purchased within those days."""
        if not 1 <= within_days <= 365:
            raise InvalidInput(
                "`withinDays` must be between 1 and 365.", field="withinDays", code="OUT_OF_RANGE"
            )
        _window(start, end)
        with pymongo.timeout(ANALYTICS_SECONDS):
            profiles = [
                (_early(s), s.first_purchase is not None)
                async for s in self._activities.starts(
                    principal.workspace_id, window=timedelta(days=within_days), since=start, until=end
                )
            ]
        return conversion_drivers(profiles)
