"""An event as the product stores it: already minimized, judged, with its consent snapshot."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.taxonomy import Phase


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    message_id: str
    profile_id: str
    type: str
    name: str
    timestamp: datetime
    received_at: datetime
    phase: Phase | None
    value: float
    planned: bool
    channel: str
    campaign: str | None
    properties: dict[str, Any]
    context: dict[str, Any]
    consent: dict[str, bool]
    expire_at: datetime | None = None  # None: written before retention existed, never expires


# One event as the per-profile reads see it: time, name, phase, value, channel, and whether the
# customer had granted personalization when it was collected.
ActivityEvent = tuple[datetime, str, Phase | None, float, str, bool]


@dataclass(frozen=True, slots=True)
class Activity:
    """What the per-profile fields of a page need of one profile's events, read once for all of
    them: its events and its purchases (time, revenue; refunds negative), each oldest first."""

    events: tuple[ActivityEvent, ...] = ()
    purchases: tuple[tuple[datetime, float], ...] = ()


NO_ACTIVITY = Activity()
