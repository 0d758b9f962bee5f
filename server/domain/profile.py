"""A progressive customer profile: ids, traits, consent and the scores derived from its events."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from privacy.consent import PurposeState
from privacy.purposes import Purpose
from server.domain.scoring import EMPTY_STATE, DecayedSum, ScoreState


@dataclass(frozen=True)
class Trait:
    value: Any
    at: datetime


@dataclass(frozen=True)
class Profile:
    id: str
    user_id: str | None = None
    anonymous_ids: tuple[str, ...] = ()
    traits: Mapping[str, Trait] = field(default_factory=dict)  # never PII: that lives in `pii`
    pii: Mapping[str, tuple[bytes, datetime]] = field(default_factory=dict)  # encrypted, per field
    blind_indexes: tuple[str, ...] = ()
    consent: Mapping[Purpose, PurposeState] = field(default_factory=dict)
    consent_head: tuple[int, str] = (0, "")  # (seq, hash) of the last ledger entry
    scores: ScoreState = EMPTY_STATE
    affinities: Mapping[str, DecayedSum] = field(default_factory=dict)
    merged_into: str | None = None
    # The newest message about the customer, scored or not: what the profile's retention counts from.
    last_active: datetime | None = None


def with_traits(profile: Profile, traits: Mapping[str, Any], at: datetime) -> Profile:
    """Traits accumulate; for each name the newest value wins, whatever order messages arrive in."""
    merged = dict(profile.traits)
    for name, value in traits.items():
        current = merged.get(name)
        if current is None or current.at <= at:
            merged[name] = Trait(value, at)
    return replace(profile, traits=merged)


def seen(profile: Profile, at: datetime) -> Profile:
    """The profile with `at` as its last activity if it is the newest so far."""
    if profile.last_active is not None and profile.last_active >= at:
        return profile
    return replace(profile, last_active=at)


def with_ids(profile: Profile, *, user_id: str | None, anonymous_id: str | None) -> Profile:
    anonymous_ids = profile.anonymous_ids
    if anonymous_id is not None and anonymous_id not in anonymous_ids:
        anonymous_ids = (*anonymous_ids, anonymous_id)
    return replace(profile, user_id=profile.user_id or user_id, anonymous_ids=anonymous_ids)
