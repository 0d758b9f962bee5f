"""Consent: a hash-chained ledger per profile, the state it implies, and the rules that read it."""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
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
    """An entry whose hash is SHA-256 over its canonical JSON, including the previous hash ("" first)."""
    if at.utcoffset() is None:
        raise ValueError("a consent decision needs a time-zone-aware time")
    # MongoDB keeps UTC milliseconds: hash exactly what will be read back, so the chain verifies.
    at = at.astimezone(UTC)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    prev = prev_hash or ""
    digest = _digest(profile_id, purpose, granted, source, policy_version, at, prev)
    return ConsentEntry(profile_id, purpose, granted, source, policy_version, at, prev, digest)


class BreakReason(Enum):
    """Why a ledger entry breaks its chain."""

    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"  # an entry before it was removed, altered or moved
    OTHER_PROFILE = "other_profile"  # it names another profile than its chain's
    TIME_NOT_AS_STORED = "time_not_as_stored"  # its time is not a UTC-millisecond time, as stored
    HASH_MISMATCH = "hash_mismatch"  # its content no longer hashes to its hash: it was altered


@dataclass(frozen=True)
class ChainBreak:
    index: int  # position in the chain as given (oldest first)
    reason: BreakReason


def chain_break(entries: Sequence[ConsentEntry], *, truncated: bool = False) -> ChainBreak | None:
    """The first entry whose link to its predecessor or own hash fails, and why; None when all hold.

    `truncated`: the oldest entries have expired (retention), so the chain is verified from the oldest
    remaining entry, whose link to its expired predecessor is taken as given. Removing the oldest
    entries by hand cannot be told from their expiry; everything after them still can."""
    previous = entries[0].prev_hash if truncated and entries else ""
    for index, entry in enumerate(entries):
        if entry.prev_hash != previous:
            return ChainBreak(index, BreakReason.PREVIOUS_HASH_MISMATCH)
        if entry.profile_id != entries[0].profile_id:
            return ChainBreak(index, BreakReason.OTHER_PROFILE)
        if entry.at.utcoffset() is None or entry.at.microsecond % 1000:
            return ChainBreak(index, BreakReason.TIME_NOT_AS_STORED)
        if entry.hash != _entry_digest(entry):
            return ChainBreak(index, BreakReason.HASH_MISMATCH)
        previous = entry.hash
    return None


def verify_chain(entries: Sequence[ConsentEntry], *, truncated: bool = False) -> int | None:
    """None when every entry's hash and link to its predecessor hold, else the first broken index."""
    broken = chain_break(entries, truncated=truncated)
    return None if broken is None else broken.index


def apply_entry(state: ConsentState, entry: ConsentEntry) -> dict[Purpose, PurposeState]:
    """The state after one more decision: the entry replaces whatever its purpose held."""
    return {**state, entry.purpose: PurposeState(entry.granted, entry.source, entry.at)}


def state_at(entries: Iterable[ConsentEntry], at: datetime) -> dict[Purpose, PurposeState]:
    """The state at `at`: the entries made at or before it, replayed in append order."""
    state: dict[Purpose, PurposeState] = {}
    for entry in entries:
        if entry.at <= at:
            state = apply_entry(state, entry)
    return state


def is_granted(state: ConsentState, purpose: Purpose, mode: ConsentMode) -> bool:
    """`necessary` always; OPT_IN only after an explicit grant; OPT_OUT until an explicit denial."""
    if purpose is Purpose.NECESSARY:
        return True
    decided = state.get(purpose)
    if mode is ConsentMode.OPT_IN:
        return decided is not None and decided.granted
    return decided is None or decided.granted


def snapshot(state: ConsentState, mode: ConsentMode) -> dict[str, bool]:
    """The effective decision for every purpose, keyed by value: what an event was collected under."""
    return {purpose.value: is_granted(state, purpose, mode) for purpose in Purpose}


def decisions_from_context(category_preferences: Mapping[str, object] | None, gpc: bool) -> list[Decision]:
    """Boolean preferences per purpose (not `necessary`) as EVENT; GPC's advertising denial outranks them."""
    decisions: list[Decision] = []
    for key, value in (category_preferences or {}).items():
        purpose = _purpose(key)
        if purpose is None or purpose is Purpose.NECESSARY or not isinstance(value, bool):
            continue
        if gpc and purpose is Purpose.ADVERTISING:
            continue
        decisions.append((purpose, value, ConsentSource.EVENT))
    if gpc:
        decisions.append((Purpose.ADVERTISING, False, ConsentSource.GPC))
    return decisions


def combine_most_restrictive(a: ConsentState, b: ConsentState) -> dict[Purpose, PurposeState]:
    """Per purpose: a denial on either side wins (the later of two); a grant survives only if both grant."""
    combined: dict[Purpose, PurposeState] = {}
    for purpose in Purpose:
        left, right = a.get(purpose), b.get(purpose)
        denials = [s for s in (left, right) if s is not None and not s.granted]
        if denials:
            combined[purpose] = _later(denials)
        elif left is not None and right is not None:
            combined[purpose] = _later([left, right])
        # A grant facing no decision is dropped: absent is at least as restrictive in both modes.
    return combined


def changes(state: ConsentState, decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions that differ from the state, or from an earlier decision in the same list."""
    current = {purpose: s.granted for purpose, s in state.items()}
    result: list[Decision] = []
    for purpose, granted, source in decisions:
        if current.get(purpose) != granted:
            result.append((purpose, granted, source))
            current[purpose] = granted
    return result


def _purpose(key: str) -> Purpose | None:
    try:
        return Purpose(key)
    except ValueError:
        return None


def _later(states: list[PurposeState]) -> PurposeState:
    # On a tie the first (the left profile's) is kept, so the merge is deterministic.
    return max(states, key=lambda s: s.at)


def _entry_digest(entry: ConsentEntry) -> str:
    return _digest(
        entry.profile_id,
        entry.purpose,
        entry.granted,
        entry.source,
        entry.policy_version,
        entry.at,
        entry.prev_hash,
    )


def _digest(
    profile_id: str,
    purpose: Purpose,
    granted: bool,
    source: ConsentSource,
    policy_version: str | None,
    at: datetime,
    prev_hash: str,
) -> str:
    # This exact text is what stored ledgers were hashed over: changing it breaks every chain.
    canonical = json.dumps(
        {
            "profile_id": profile_id,
            "purpose": purpose.value,
            "granted": granted,
            "source": source.value,
            "policy_version": policy_version,
            "at": at.astimezone(UTC).isoformat(timespec="milliseconds"),
            "prev_hash": prev_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
