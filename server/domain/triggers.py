"""Next-best-action triggers: "reached PHASE, no ACTION within N minutes → ACTION NAME", once per journey."""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.domain.scoring import JOURNEY_IDLE, ScoreState
from server.domain.taxonomy import Phase

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Trigger:
    id: str
    name: str
    action: str  # what the engine should do, e.g. "abandoned-checkout"
    reached: Phase
    within: timedelta
    url: str
    # Only journeys active at or after this moment are considered: a new rule does not fire for
    # journeys that went quiet before it existed. None: every journey (rules stored before `since`).
    since: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """A webhook a trigger owes for one journey, and how its attempts went."""

    id: str
    workspace_id: str
    trigger_id: str
    profile_id: str
    status: str  # PENDING, DELIVERED or FAILED
    attempts: int
    last_status: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    body: dict[str, Any]


def due(trigger: Trigger, state: ScoreState, now: datetime) -> str | None:
    """The open journey's key when it reached the trigger's phase (but not ACTION), was active at or
    after the trigger's `since` and has been quiet for `within`; None otherwise. The key makes firing
    once per journey checkable."""
    if state.journey_closed or state.journey_started_at is None or state.journey_last_at is None:
        return None
    if (
        state.journey_phase is None
        or state.journey_phase < trigger.reached
        or state.journey_phase is Phase.ACTION
    ):
        return None
    if trigger.since is not None and state.journey_last_at < trigger.since:
        return None
    quiet = now - state.journey_last_at
    if quiet < trigger.within or quiet > JOURNEY_IDLE:
        return None
    return state.journey_started_at.isoformat()


def next_best_action(triggers: Sequence[Trigger], state: ScoreState, now: datetime) -> str | None:
    """The action of the most advanced trigger whose phase the open journey has reached without an
    ACTION (what a personalization engine should do now); None when no rule applies."""
    if state.journey_closed or state.journey_phase is None or state.journey_phase is Phase.ACTION:
        return None
    if state.journey_last_at is None or now - state.journey_last_at > JOURNEY_IDLE:
        return None
    phase = state.journey_phase
    reached = [trigger for trigger in triggers if trigger.reached <= phase]
    return max(reached, key=lambda t: (t.reached, t.name)).action if reached else None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body", hex: what the X-Granular-Signature header carries."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: 30 s doubling, at most an hour."""
    return min(timedelta(seconds=30 * 2 ** max(0, attempts - 1)), timedelta(hours=1))
