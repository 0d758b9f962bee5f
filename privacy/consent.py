"""Consent: a hash-chained ledger per profile, the state it implies, and the rules that read it."""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeAlias

from privacy.purposes import ConsentMode, ConsentSource, Purpose


@dataclass(frozen=True)
class ConsentEntry:
    profile_id: str
    purpose: Purpose
    granted: bool
    source: ConsentSource
    policy_version: str | None
    at: datetime  # when it was recorded: the chain is in this order
    prev_hash: str
    hash: str
    # When the decision took effect (a timestamped or back-filled event's own time). None: recorded
    # before effective times existed, so it took effect when it was recorded (and is hashed without it).
    effective_at: datetime | None = None

    @property
    def effective(self) -> datetime:
        return self.effective_at or self.at


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
    effective_at: datetime | None = None,
) -> ConsentEntry:
    """An entry whose hash is SHA-256 over its canonical JSON, including the previous hash ("" first)
    and, when given, the time the decision took effect."""
    at = _stored_time(at)
    effective = None if effective_at is None else _stored_time(effective_at)
    prev = prev_hash or ""
    entry = ConsentEntry(profile_id, purpose, granted, source, policy_version, at, prev, "", effective)
    return replace(entry, hash=_entry_digest(entry))


def _stored_time(at: datetime) -> datetime:
    if at.utcoffset() is None:
        raise ValueError("a consent decision needs a time-zone-aware time")
    # MongoDB keeps UTC milliseconds: hash exactly what will be read back, so the chain verifies.
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def verify_chain(entries: Sequence[ConsentEntry], *, truncated: bool = False) -> int | None:
    """None when every entry's hash and link to its predecessor hold, else the first broken index.

    `truncated`: the oldest entries have expired (retention), so the chain is verified from the oldest
    remaining entry, whose link to its expired predecessor is taken as given. Removing the oldest
    entries by hand cannot be told from their expiry; everything after them still can."""
    previous = entries[0].prev_hash if truncated and entries else ""
    for index, entry in enumerate(entries):
        if (
            entry.prev_hash != previous
            or entry.profile_id != entries[0].profile_id
            or not all(_is_stored_time(t) for t in (entry.at, entry.effective))
            or entry.hash != _entry_digest(entry)
        ):
            return index
        previous = entry.hash
    return None


def _is_stored_time(at: datetime) -> bool:
    return at.utcoffset() is not None and at.microsecond % 1000 == 0


def apply_entry(state: ConsentState, entry: ConsentEntry) -> dict[Purpose, PurposeState]:
    """The state after one more decision, by the time it took effect: a newer decision replaces its
    purpose's state; an older one of the same value moves `at` (held since) back; an older contrary
    one is history only. A PurposeState's `at` is when its value took effect."""
    current = state.get(entry.purpose)
    effective = entry.effective
    if current is not None:
        if current.granted == entry.granted and effective >= current.at:
            return dict(state)
        if current.granted != entry.granted and effective < current.at:
            return dict(state)
    return {**state, entry.purpose: PurposeState(entry.granted, entry.source, effective)}


def state_at(entries: Iterable[ConsentEntry], at: datetime) -> dict[Purpose, PurposeState]:
    """The state at `at`: the decisions in effect by then, replayed in the order they took effect
    (append order among equal times)."""
    state: dict[Purpose, PurposeState] = {}
    for entry in sorted((e for e in entries if e.effective <= at), key=lambda e: e.effective):
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


def changes(
    state: ConsentState, decisions: Iterable[Decision], effective_at: datetime | None = None
) -> list[Decision]:
    """The decisions worth recording: those that differ from the state (or from an earlier decision
    in the same list), and, with `effective_at`, those older than the state they meet (history that
    a past-moment query must be able to answer)."""
    current = {purpose: s.granted for purpose, s in state.items()}
    since = {purpose: s.at for purpose, s in state.items()}
    result: list[Decision] = []
    for purpose, granted, source in decisions:
        older = effective_at is not None and purpose in since and effective_at < since[purpose]
        if older and all((p, g) != (purpose, granted) for p, g, _ in result):
            result.append((purpose, granted, source))
        elif not older and current.get(purpose) != granted:
            result.append((purpose, granted, source))
            current[purpose] = granted
    return result


def chained(
    state: ConsentState,
    head: tuple[int, str],
    decisions: Iterable[Decision],
    *,
    profile_id: str,
    policy_version: str | None,
    effective_at: datetime,
    recorded_at: datetime,
) -> tuple[dict[Purpose, PurposeState], tuple[int, str], list[tuple[int, ConsentEntry]]]:
    """Record decisions: the state after them, the chain's new (seq, hash) head, and the (seq, entry)
    pairs to append; each entry links to the one before it, so the chain cannot be forked or edited."""
    current = dict(state)
    seq, last = head
    appended: list[tuple[int, ConsentEntry]] = []
    for purpose, granted, source in changes(current, decisions, effective_at):
        seq += 1
        entry = ledger_entry(
            profile_id=profile_id,
            purpose=purpose,
            granted=granted,
            source=source,
            policy_version=policy_version,
            at=recorded_at,
            prev_hash=last or None,
            effective_at=effective_at,
        )
        appended.append((seq, entry))
        current = apply_entry(current, entry)
        last = entry.hash
    return current, (seq, last), appended


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
        entry.effective_at,
    )


def _digest(
    profile_id: str,
    purpose: Purpose,
    granted: bool,
    source: ConsentSource,
    policy_version: str | None,
    at: datetime,
    prev_hash: str,
    effective_at: datetime | None,
) -> str:
    # This exact text is what stored ledgers were hashed over: changing it breaks every chain.
    # Entries with an effective time add it under "effective_at"; older entries never had the key.
    fields: dict[str, object] = {
        "profile_id": profile_id,
        "purpose": purpose.value,
        "granted": granted,
        "source": source.value,
        "policy_version": policy_version,
        "at": _iso(at),
        "prev_hash": prev_hash,
    }
    if effective_at is not None:
        fields["effective_at"] = _iso(effective_at)
    canonical = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")
