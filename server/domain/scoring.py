"""Engagement, intent and phase (DESIGN §6): exact decayed sums, updated in O(1) per event.

With half-life H, d(now, t) = 2^(−(now − t)/H). A sum is kept as (total, ref): its value at any t
is total · 2^(−(t − ref)/H). A journey closes at an ACTION-phase event or after 30 days without
events; the next event opens a new one.
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
    journey: DecayedSum = DecayedSum()  # the open journey's sum
    journey_started_at: datetime | None = None
    journey_last_at: datetime | None = None
    journey_phase: Phase | None = None
    journey_closed: bool = True
    journeys: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None


EMPTY_STATE = ScoreState()


def _opens_new_journey(state: ScoreState, at: datetime) -> bool:
    return state.journey_closed or state.journey_last_at is None or at - state.journey_last_at > JOURNEY_IDLE


def apply_event(state: ScoreState, event: ScoredEvent, half_life: timedelta) -> ScoreState:
    """One more event. Engagement is exact whatever the arrival order. An event older than the open
    journey's start belongs to an earlier journey and changes engagement only."""
    engagement = add(state.engagement, event.value, event.at, half_life)
    first_seen = min(filter(None, (state.first_seen, event.at)))
    last_seen = max(filter(None, (state.last_seen, event.at)))
    base = replace(state, engagement=engagement, first_seen=first_seen, last_seen=last_seen)
    if state.journey_started_at is not None and event.at < state.journey_started_at:
        return base
    if _opens_new_journey(state, event.at) and not (
        state.journey_last_at is not None and event.at <= state.journey_last_at
    ):
        base = replace(
            base,
            journey=DecayedSum(),
            journey_started_at=event.at,
            journey_last_at=None,
            journey_phase=None,
            journey_closed=False,
            journeys=state.journeys + 1,
        )
    phase = base.journey_phase
    if event.phase is not None and (phase is None or event.phase > phase):
        phase = event.phase
    return replace(
        base,
        journey=add(base.journey, event.value, event.at, half_life),
        journey_last_at=max(filter(None, (base.journey_last_at, event.at))),
        journey_phase=phase,
        journey_closed=base.journey_closed or event.phase is Phase.ACTION,
    )


def recompute(events: Iterable[ScoredEvent], half_life: timedelta) -> ScoreState:
    """The state from scratch: every event applied in time order."""
    state = EMPTY_STATE
    for event in sorted(events, key=lambda e: e.at):
        state = apply_event(state, event, half_life)
    return state


def _journey_open(state: ScoreState, now: datetime) -> bool:
    return (
        not state.journey_closed
        and state.journey_last_at is not None
        and now - state.journey_last_at <= JOURNEY_IDLE
    )


def engagement_score(state: ScoreState, now: datetime, half_life: timedelta) -> float:
    """Σ value_i · d_i(now) over every scored event."""
    return value_at(state.engagement, now, half_life)


def intent_score(state: ScoreState, now: datetime, half_life: timedelta) -> float:
    """1 − exp(−Σ value_i · d_i(now)) over the open journey; 0 when no journey is open."""
    if not _journey_open(state, now):
        return 0.0
    return 1.0 - math.exp(-value_at(state.journey, now, half_life))


def phase(state: ScoreState, now: datetime) -> Phase | None:
    """The highest phase reached in the open journey."""
    return state.journey_phase if _journey_open(state, now) else None


@dataclass(frozen=True)
class Contribution:
    name: str
    at: datetime
    value: float
    decay: float
    weight: float


@dataclass(frozen=True)
class ScoreExplanation:
    engagement: tuple[Contribution, ...]
    intent: tuple[Contribution, ...]


def open_journey(events: Sequence[ScoredEvent], now: datetime) -> list[ScoredEvent]:
    """The events of the journey open at `now` (empty if it closed), by the same rules as apply_event."""
    current: list[ScoredEvent] = []
    closed = True
    for event in sorted(events, key=lambda e: e.at):
        if closed or (current and event.at - current[-1].at > JOURNEY_IDLE):
            current, closed = [], False
        current.append(event)
        closed = event.phase is Phase.ACTION
    if closed or not current or now - current[-1].at > JOURNEY_IDLE:
        return []
    return current


def explain(
    events: Sequence[ScoredEvent], now: datetime, half_life: timedelta, *, limit: int = 10
) -> ScoreExplanation:
    """The events behind each score, heaviest first: weight = value · 2^(−(now − t)/H)."""

    def contributions(chosen: Iterable[ScoredEvent]) -> tuple[Contribution, ...]:
        rows = [
            Contribution(e.name, e.at, e.value, d := decay(now, e.at, half_life), e.value * d)
            for e in chosen
            if e.value > 0
        ]
        return tuple(sorted(rows, key=lambda c: (-c.weight, c.at))[:limit])

    return ScoreExplanation(contributions(events), contributions(open_journey(events, now)))
