"""Distributions over every profile, counted by aggregation in the database: phases now, and
customers by revenue. Python sees a few dozen groups or bins, never the profiles themselves."""

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pymongo

from privacy.consent import is_granted
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.domain.audience import membership_as_of
from server.domain.errors import InvalidInput
from server.domain.histogram import MAX_BOUNDARIES, ONE_TWO_FIVE, Bin, bins, valid_boundaries
from server.domain.profile import Profile
from server.domain.scoring import JOURNEY_IDLE, journey_open, phase
from server.domain.taxonomy import Phase
from server.domain.workspace import WorkspaceSettings
from server.services.analytics import ANALYTICS_SECONDS, check_range
from server.storage.audiences import Audiences
from server.storage.events import Events
from server.storage.profiles import Profiles
from server.storage.workspaces import Workspaces


@dataclass(frozen=True)
class PhaseCount:
    phase: Phase | None
    journey_open: bool
    count: int


@dataclass(frozen=True)
class PhaseDistribution:
    as_of: datetime
    profiles: int
    without_consent: int  # their phase is not shown, so they are in no row
    rows: list[PhaseCount]  # phase order (None last), open journeys first


@dataclass(frozen=True)
class RevenueDistribution:
    customers: int
    revenue: float
    bins: list[Bin]


def _shown(member: Profile, workspace: WorkspaceSettings, now: datetime) -> tuple[Phase | None, bool] | None:
    """What the API shows for `member` (and so for every profile grouped with it): nothing without
    personalization consent, else its phase and whether its journey is open, by the domain's rules."""
    if not is_granted(member.consent, Purpose.PERSONALIZATION, workspace.consent_mode):
        return None
    return phase(member.scores), journey_open(member.scores, now)


def _row_order(row: PhaseCount) -> tuple[int, bool]:
    return (len(Phase) + 1 if row.phase is None else row.phase.value, not row.journey_open)


class DistributionService:
    def __init__(
        self,
        profiles: Profiles,
        events: Events,
        workspaces: Workspaces,
        audiences: Audiences,
        clock: Callable[[], datetime],
    ) -> None:
        self._audiences = audiences
        self._profiles = profiles
        self._events = events
        self._workspaces = workspaces
        self._clock = clock

    async def phases(
        self, principal: Principal, start: datetime | None, end: datetime | None
    ) -> PhaseDistribution:
        """Live profiles by the phase the API shows for them now (with scored activity overlapping
        [start, end], when given). The database groups them by what the phase rule reads; the rule
        itself runs here, once per group."""
        check_range(start, end)
        workspace = await self._workspaces.get(principal.workspace_id)
        now = self._clock()
        with pymongo.timeout(ANALYTICS_SECONDS):
            groups = await self._profiles.phase_groups(
                principal.workspace_id, recent_since=now - JOURNEY_IDLE, active_from=start, active_to=end
            )
        counts: Counter[tuple[Phase | None, bool]] = Counter()
        without_consent = 0
        for member, size in groups:
            shown = _shown(member, workspace, now)
            if shown is None:
                without_consent += size
            else:
                counts[shown] += size
        rows = sorted((PhaseCount(p, open_, n) for (p, open_), n in counts.items()), key=_row_order)
        return PhaseDistribution(now, sum(size for _, size in groups), without_consent, rows)

    async def revenue(
        self,
        principal: Principal,
        start: datetime | None,
        end: datetime | None,
        boundaries: Sequence[float] | None,
        audience: str | None = None,
    ) -> RevenueDistribution:
        """Customers with an order or refund in [start, end] (default: up to now; of them, the
        audience's members as of `end`, if given), binned by their net revenue in it; without
        `boundaries`, a 1-2-5 series from 0."""
        check_range(start, end)
        cuts = list(ONE_TWO_FIVE if boundaries is None else boundaries)
        if not valid_boundaries(cuts):
            raise InvalidInput(
                f"`boundaries` takes 1 to {MAX_BOUNDARIES} finite numbers in increasing order.",
                field="boundaries",
                code="INVALID_BOUNDARIES",
            )
        now = self._clock()
        restriction = await self._audiences.restriction(
            principal.workspace_id, audience, as_of=membership_as_of(end, now)
        )
        with pymongo.timeout(ANALYTICS_SECONDS):
            filled = await self._events.revenue_histogram(
                principal.workspace_id,
                boundaries=cuts,
                since=start,
                until=end or now,
                audience=restriction,
            )
        found = bins(cuts, filled)
        return RevenueDistribution(
            customers=sum(b.count for b in found), revenue=math.fsum(b.total for b in found), bins=found
        )
