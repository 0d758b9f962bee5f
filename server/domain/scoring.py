"""Engagement, intent and phase (DESIGN §6): exact decayed sums, updated in O(1) per event.

With half-life H, d(now, t) = 2^(−(now − t)/H). A sum is kept as (total, ref): its value at any t
is total · 2^(−(t − ref)/H). A journey is a run of micro-conversions (events with a taxonomy phase):
it closes at an ACTION-phase event or after 30 days without one, and the next micro-conversion opens
a new one. Events without a phase (page views, refunds, unplanned names) count for engagement only.
A profile's phase is the phase its latest journey reached, whether or not that journey is still open.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from server.domain.taxonomy import Phase

JOURNEY_IDLE = timedelta(days=30)


@dataclass(frozen=True)
class DecayedSum:
    total: float = 0.0
    ref: datetime | None = None


def decay(now: datetime, at: datetime, half_life: timedelta) -> float:
    """2^(−(now − at)/H)."""
    return math.pow(2.0, -((now - at) / half_life))


def add(s: DecayedSum, value: float, at: datetime, half_life: timedelta) -> DecayedSum:
    """sum ← sum·2^(−(ref' − ref)/H) + value·2^(−(ref' − at)/H), ref' = max(ref, at); exact when late."""
    if s.ref is None:
        return DecayedSum(value, at)
    ref = max(s.ref, at)
    return DecayedSum(s.total * decay(ref, s.ref, half_life) + value * decay(ref, at, half_life), ref)


def value_at(s: DecayedSum, now: datetime, half_life: timedelta) -> float:
    """total · 2^(−(now − ref)/H)."""
    return 0.0 if s.ref is None else s.total * decay(now, s.ref, half_life)


@dataclass(frozen=True)
class ScoredEvent:
    at: datetime
    name: str
    value: float
    phase: Phase | None


@dataclass(frozen=True)
class ScoreState:
    engagement: DecayedSum = DecayedSum()
    journey: DecayedSum = DecayedSum()  # the latest journey's sum; counts for intent while it is open
    journey_started_at: datetime | None = None
    journey_last_at: datetime | None = None
    journey_phase: Phase | None = None
    journey_closed: bool = True
    journeys: int = 0  # journeys opened, in arrival order
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # No event at or before this belongs to the latest journey: the previous journey's last event, or
    # a late ACTION that arrived after the journey opened. Lets late events extend the journey backward.
    journey_floor: datetime | None = None


EMPTY_STATE = ScoreState()


def apply_event(state: ScoreState, event: ScoredEvent, half_life: timedelta) -> ScoreState:
    """One more event, O(1). Engagement is exact in any arrival order. The journey rules (a journey
    closes at an ACTION or after 30 idle days; the next micro-conversion opens a new one; an event
    without a phase belongs to no journey) are exact for events in
    time order and for late events inside the latest journey or extending it backward by ≤ 30 days to
    after the previous journey's last event. Other late events count for engagement only. Known
    approximations: a late ACTION inside the open journey closes it (recompute would split it there),
    and a late event that would bridge an idle gap to the previous journey joins the latest one only."""
    base = replace(
        state,
        engagement=add(state.engagement, event.value, event.at, half_life),
        first_seen=event.at if state.first_seen is None else min(state.first_seen, event.at),
        last_seen=event.at if state.last_seen is None else max(state.last_seen, event.at),
    )
    if event.phase is None:
        return base
    start, last = state.journey_started_at, state.journey_last_at
    if start is None or last is None:
        return _join(_opened(base, None), event, half_life)
    if event.at > last and (state.journey_closed or event.at - last > JOURNEY_IDLE):
        return _join(_opened(base, last), event, half_life)
    if event.at >= start:
        return _join(base, event, half_life)
    if state.journey_floor is not None and event.at <= state.journey_floor:
        return base
    if event.phase is Phase.ACTION:
        # It closed a journey that ended before this one began, so nothing at or before it is ours.
        return replace(base, journey_floor=event.at)
    if start - event.at > JOURNEY_IDLE:
        return base
    return _join(base, event, half_life)


def _opened(state: ScoreState, floor: datetime | None) -> ScoreState:
    return replace(
        state,
        journey=DecayedSum(),
        journey_started_at=None,
        journey_last_at=None,
        journey_phase=None,
        journey_closed=False,
        journeys=state.journeys + 1,
        journey_floor=floor,
    )


def _join(state: ScoreState, event: ScoredEvent, half_life: timedelta) -> ScoreState:
    start, last, reached = state.journey_started_at, state.journey_last_at, state.journey_phase
    if event.phase is not None and (reached is None or event.phase > reached):
        reached = event.phase
    return replace(
        state,
        journey=add(state.journey, event.value, event.at, half_life),
        journey_started_at=event.at if start is None else min(start, event.at),
        journey_last_at=event.at if last is None else max(last, event.at),
        journey_phase=reached,
        journey_closed=state.journey_closed or event.phase is Phase.ACTION,
    )


def recompute(events: Iterable[ScoredEvent], half_life: timedelta) -> ScoreState:
    """The state from scratch: apply_event folded over the events sorted by time."""
    state = EMPTY_STATE
    for event in sorted(events, key=lambda e: e.at):
        state = apply_event(state, event, half_life)
    return state


def journey_open(state: ScoreState, now: datetime) -> bool:
    """The latest journey has not closed at an ACTION and saw a micro-conversion within 30 days of `now`."""
    return (
        not state.journey_closed
        and state.journey_last_at is not None
        and now - state.journey_last_at <= JOURNEY_IDLE
    )


def engagement_score(state: ScoreState, now: datetime, half_life: timedelta) -> float:
    """Σ value_i · 2^(−(now − t_i)/H) over every scored event."""
    return value_at(state.engagement, now, half_life)


def intent_score(state: ScoreState, now: datetime, half_life: timedelta) -> float:
    """1 − exp(−Σ value_i · 2^(−(now − t_i)/H)) over the open journey; 0 when it closed at an ACTION,
    has been idle more than 30 days at `now`, or none exists."""
    if not journey_open(state, now):
        return 0.0
    return 1.0 - math.exp(-value_at(state.journey, now, half_life))


def phase(state: ScoreState) -> Phase | None:
    """The highest phase the latest journey reached, open or not: ACTION after a purchase until the next
    micro-conversion (or one after 30 idle days) starts a new journey; None before any micro-conversion."""
    return state.journey_phase


@dataclass(frozen=True)
class Contribution:
    name: str
    at: datetime
    value: float
    decay: float  # 2^(−(now − at)/H)
    weight: float  # value · decay


@dataclass(frozen=True)
class ScoreExplanation:
    engagement_score: float
    intent_score: float
    engagement: tuple[Contribution, ...]  # heaviest first, at most `limit`
    intent: tuple[Contribution, ...]  # the open journey's events only


def journeys_of(events: Iterable[ScoredEvent]) -> list[list[ScoredEvent]]:
    """The micro-conversions split into journeys in time order: a new one starts after an ACTION (events
    at the ACTION's very time still belong to its journey) or after more than 30 days without one.
    Events without a phase belong to no journey."""
    journeys: list[list[ScoredEvent]] = []
    closed = True
    for event in sorted((e for e in events if e.phase is not None), key=lambda e: e.at):
        last = journeys[-1][-1].at if journeys else None
        if last is None or (closed and event.at > last) or event.at - last > JOURNEY_IDLE:
            journeys.append([])
            closed = False
        journeys[-1].append(event)
        closed = closed or event.phase is Phase.ACTION
    return journeys


def open_journey(events: Iterable[ScoredEvent], now: datetime) -> list[ScoredEvent]:
    """The events of the journey open at `now` (empty if the latest closed at an ACTION or idled out)."""
    journeys = journeys_of(events)
    if not journeys:
        return []
    latest = journeys[-1]
    if any(e.phase is Phase.ACTION for e in latest) or now - latest[-1].at > JOURNEY_IDLE:
        return []
    return latest


def explain(
    events: Sequence[ScoredEvent], now: datetime, half_life: timedelta, *, limit: int = 10
) -> ScoreExplanation:
    """Both scores at `now` and the events behind them, heaviest first: weight = value · 2^(−(now − t)/H);
    engagement over every event, intent over the open journey (same rules as apply_event)."""

    def contributions(chosen: Iterable[ScoredEvent]) -> list[Contribution]:
        return sorted(
            (
                Contribution(e.name, e.at, e.value, d := decay(now, e.at, half_life), e.value * d)
                for e in chosen
                if e.value > 0
            ),
            key=lambda c: (-c.weight, c.at, c.name),
        )

    everything, journey = contributions(events), contributions(open_journey(events, now))
    top = max(limit, 0)
    return ScoreExplanation(
        engagement_score=math.fsum(c.weight for c in everything),
        intent_score=1.0 - math.exp(-math.fsum(c.weight for c in journey)),
        engagement=tuple(everything[:top]),
        intent=tuple(journey[:top]),
    )
