"""A progressive customer profile: ids, traits, consent and the scores derived from its events."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from privacy.consent import PurposeState
from privacy.purposes import Purpose
from server.domain.scoring import EMPTY_STATE, DecayedSum, ScoreState

# Traits one profile may hold (plain and personal together), and the JSON size of one trait's value:
# with the identifier cap, no profile document comes near MongoDB's 16 MB.
MAX_TRAITS = 100
MAX_TRAIT_BYTES = 2048


@dataclass(frozen=True)
class Trait:
    value: Any
    at: datetime


@dataclass(frozen=True)
class Profile:
    id: str
    user_id: str | None = None
    anonymous_ids: tuple[str, ...] = ()
    # User ids of identified profiles merged into this one: they still find it (look-up, new events, DSRs).
    user_aliases: tuple[str, ...] = ()
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
    """The profile knowing these ids too (a user id only fills an empty slot; see `with_alias`)."""
    if anonymous_id is None or anonymous_id in profile.anonymous_ids:
        if user_id is None or profile.user_id is not None:
            return profile
        return replace(profile, user_id=user_id)
    return replace(
        profile, user_id=profile.user_id or user_id, anonymous_ids=(*profile.anonymous_ids, anonymous_id)
    )


def with_alias(profile: Profile, user_id: str) -> Profile:
    """The profile also known by another user id (an identified profile merged into it)."""
    if user_id == profile.user_id or user_id in profile.user_aliases:
        return profile
    return replace(profile, user_aliases=(*profile.user_aliases, user_id))


def user_ids(profile: Profile) -> tuple[str, ...]:
    """Every user id that finds this profile: its own and its aliases."""
    return profile.user_aliases if profile.user_id is None else (profile.user_id, *profile.user_aliases)


def identifier_count(profile: Profile) -> int:
    """Anonymous ids and user aliases: what the per-profile identifier cap counts."""
    return len(profile.anonymous_ids) + len(profile.user_aliases)


def trait_count_with(profile: Profile, names: Iterable[str]) -> int:
    """How many traits the profile would hold with these names added."""
    return len({*profile.traits, *profile.pii, *names})
