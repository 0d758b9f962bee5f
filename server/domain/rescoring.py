"""A profile's scores and affinities from its events: one event at a time (ingest) or from scratch
(after a merge, or when events expire)."""

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from privacy.purposes import Purpose
from server.domain.affinity import add_affinity
from server.domain.event import StoredEvent
from server.domain.profile import Profile
from server.domain.retention import is_expired
from server.domain.scoring import EMPTY_STATE, ScoredEvent, apply_event
from server.domain.workspace import WorkspaceSettings


def counts_for_scores(event: StoredEvent, now: datetime) -> bool:
    """Only events collected with personalization consent count, and only until they expire."""
    return bool(event.consent.get(Purpose.PERSONALIZATION.value)) and not is_expired(event.expire_at, now)


def scored(profile: Profile, event: StoredEvent, workspace: WorkspaceSettings) -> Profile:
    """The profile with one more event in its scores and affinities (O(1), exact for late events)."""
    affinities = profile.affinities
    if event.phase is not None:
        affinities = add_affinity(
            affinities, event.phase, event.properties, event.value, event.timestamp, workspace.half_life
        )
    at = ScoredEvent(at=event.timestamp, name=event.name, value=event.value, phase=event.phase)
    return replace(
        profile, scores=apply_event(profile.scores, at, workspace.half_life), affinities=affinities
    )


def rescored(
    profile: Profile, events: Iterable[StoredEvent], workspace: WorkspaceSettings, now: datetime
) -> Profile:
    """Scores and affinities from scratch over the events that count at `now` (an expired event
    counts as gone even before the TTL monitor deletes it)."""
    profile = replace(profile, scores=EMPTY_STATE, affinities={})
    for event in sorted(events, key=lambda e: e.timestamp):
        if counts_for_scores(event, now):
            profile = scored(profile, event, workspace)
    return profile
