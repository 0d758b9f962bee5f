"""Consent: a hash-chained ledger per profile, the state it implies, and the rules that read it."""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from privacy.purposes import ConsentMode, ConsentSource, Purpose


@dataclass(frozen=True)
class ConsentEntry:
    profile_id: str
    purpose: Purpose
    granted: bool
    source: ConsentSource
    policy_version: str | None
    at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class PurposeState:
    granted: bool
    source: ConsentSource
    at: datetime


ConsentState: TypeAlias = Mapping[Purpose, PurposeState]
Decision: TypeAlias = tuple[Purpose, bool, ConsentSource]


def _digest(
    profile_id: str,
    purpose: Purpose,
    granted: bool,
    source: ConsentSource,
    policy_version: str | None,
    at: datetime,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "profile_id": profile_id,
            "purpose": purpose.value,
            "granted": granted,
            "source": source.value,
            "policy_version": policy_version,
            "at": at.isoformat(timespec="milliseconds"),
            "prev_hash": prev_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def ledger_entry(
    *,
    profile_id: str,
    purpose: Purpose,
    granted: bool,
    source: ConsentSource,
    policy_version: str | None,
    at: datetime,
    prev_hash: str | None,
) -> ConsentEntry:
    """An entry whose hash covers its fields and the previous entry's hash ("" for the first)."""
    # MongoDB keeps milliseconds: hash what will be stored so the chain verifies after a round trip.
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    prev = prev_hash or ""
    return ConsentEntry(
        profile_id,
        purpose,
        granted,
        source,
        policy_version,
        at,
        prev,
        _digest(profile_id, purpose, granted, source, policy_version, at, prev),
    )


def verify_chain(entries: Sequence[ConsentEntry]) -> int | None:
    """None when every entry's hash and link is intact, else the index of the first broken one."""
    previous = ""
    for index, e in enumerate(entries):
        expected = _digest(e.profile_id, e.purpose, e.granted, e.source, e.policy_version, e.at, e.prev_hash)
        if e.prev_hash != previous or e.hash != expected:
            return index
        previous = e.hash
    return None


def apply_entry(state: ConsentState, entry: ConsentEntry) -> dict[Purpose, PurposeState]:
    """The state after one more decision."""
    return {**state, entry.purpose: PurposeState(entry.granted, entry.source, entry.at)}


def state_at(entries: Iterable[ConsentEntry], at: datetime) -> dict[Purpose, PurposeState]:
    """Replay, in append order, the entries made at or before `at`."""
    state: dict[Purpose, PurposeState] = {}
    for entry in entries:
        if entry.at <= at:
            state = apply_entry(state, entry)
    return state


def is_granted(state: ConsentState, purpose: Purpose, mode: ConsentMode) -> bool:
    """`necessary` always; OPT_IN needs an explicit grant; OPT_OUT holds until an explicit denial."""
    if purpose is Purpose.NECESSARY:
        return True
    decided = state.get(purpose)
    if mode is ConsentMode.OPT_IN:
        return decided is not None and decided.granted
    return decided is None or decided.granted


def snapshot(state: ConsentState, mode: ConsentMode) -> dict[str, bool]:
    """The effective decision for every purpose, stored with each event."""
    return {purpose.value: is_granted(state, purpose, mode) for purpose in Purpose}


def decisions_from_context(category_preferences: Mapping[str, object] | None, gpc: bool) -> list[Decision]:
    """Segment's categoryPreferences keyed by purpose, plus GPC, which outranks an advertising grant."""
    decisions: list[Decision] = []
    for key, value in (category_preferences or {}).items():
        if not isinstance(value, bool) or key not in Purpose._value2member_map_:
            continue
        purpose = Purpose(key)
        if purpose is Purpose.NECESSARY or (gpc and purpose is Purpose.ADVERTISING):
            continue
        decisions.append((purpose, value, ConsentSource.EVENT))
    if gpc:
        decisions.append((Purpose.ADVERTISING, False, ConsentSource.GPC))
    return decisions


def changes(state: ConsentState, decisions: Iterable[Decision]) -> list[Decision]:
    """Only the decisions that differ from the current state (or from an earlier one in the list)."""
    current = {purpose: s.granted for purpose, s in state.items()}
    result: list[Decision] = []
    for purpose, granted, source in decisions:
        if current.get(purpose) != granted:
            result.append((purpose, granted, source))
            current[purpose] = granted
    return result


def combine_most_restrictive(a: ConsentState, b: ConsentState) -> dict[Purpose, PurposeState]:
    """Merging two profiles: a denial on either side wins; a grant survives only if both granted."""
    combined: dict[Purpose, PurposeState] = {}
    for purpose in {*a, *b}:
        left, right = a.get(purpose), b.get(purpose)
        denials = [s for s in (left, right) if s is not None and not s.granted]
        if denials:
            combined[purpose] = max(denials, key=lambda s: s.at)
        elif left is not None and right is not None:
            combined[purpose] = max((left, right), key=lambda s: s.at)
    return combined
