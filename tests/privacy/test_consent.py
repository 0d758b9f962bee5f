from dataclasses import replace
from datetime import UTC, datetime, timedelta

from privacy.consent import (
    PurposeState,
    changes,
    combine_most_restrictive,
    decisions_from_context,
    is_granted,
    ledger_entry,
    snapshot,
    state_at,
    verify_chain,
)
from privacy.purposes import ConsentMode, ConsentSource, Purpose

T0 = datetime(2026, 1, 1, tzinfo=UTC)
API, EVENT, GPC = ConsentSource.API, ConsentSource.EVENT, ConsentSource.GPC


def _chain(*decisions: tuple[Purpose, bool, int]) -> list:  # type: ignore[type-arg]
    entries = []
    previous = None
    for purpose, granted, minutes in decisions:
        entry = ledger_entry(
            profile_id="p1",
            purpose=purpose,
            granted=granted,
            source=API,
            policy_version="v1",
            at=T0 + timedelta(minutes=minutes),
            prev_hash=previous,
        )
        entries.append(entry)
        previous = entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(_chain((Purpose.ANALYTICS, True, 0), (Purpose.ANALYTICS, False, 5))) is None


def test_an_altered_entry_is_found() -> None:
    entries = _chain(
        (Purpose.ANALYTICS, True, 0), (Purpose.ANALYTICS, False, 5), (Purpose.ADVERTISING, True, 9)
    )
    entries[1] = replace(entries[1], granted=True)
    assert verify_chain(entries) == 1


def test_a_removed_entry_breaks_the_link() -> None:
    entries = _chain(
        (Purpose.ANALYTICS, True, 0), (Purpose.ANALYTICS, False, 5), (Purpose.ADVERTISING, True, 9)
    )
    assert verify_chain([entries[0], entries[2]]) == 1


def test_state_at_a_past_moment_replays_only_earlier_entries() -> None:
    entries = _chain((Purpose.ANALYTICS, True, 0), (Purpose.ANALYTICS, False, 10))
    assert state_at(entries, T0 + timedelta(minutes=5))[Purpose.ANALYTICS].granted is True
    assert state_at(entries, T0 + timedelta(minutes=10))[Purpose.ANALYTICS].granted is False
    assert state_at(entries, T0 - timedelta(minutes=1)) == {}


def test_opt_in_needs_an_explicit_grant() -> None:
    assert is_granted({}, Purpose.ANALYTICS, ConsentMode.OPT_IN) is False


def test_opt_out_holds_until_an_explicit_denial() -> None:
    denied = {Purpose.ANALYTICS: PurposeState(False, API, T0)}
    assert is_granted({}, Purpose.ANALYTICS, ConsentMode.OPT_OUT) is True
    assert is_granted(denied, Purpose.ANALYTICS, ConsentMode.OPT_OUT) is False


def test_necessary_is_always_granted() -> None:
    denied = {Purpose.NECESSARY: PurposeState(False, API, T0)}
    assert is_granted(denied, Purpose.NECESSARY, ConsentMode.OPT_IN) is True


def test_snapshot_names_every_purpose() -> None:
    assert snapshot({}, ConsentMode.OPT_IN) == {
        "necessary": True,
        "analytics": False,
        "personalization": False,
        "marketing_email": False,
        "marketing_sms": False,
        "advertising": False,
    }


def test_category_preferences_become_event_decisions_and_unknown_keys_are_ignored() -> None:
    decisions = decisions_from_context({"analytics": True, "mystery": True, "advertising": "yes"}, gpc=False)
    assert decisions == [(Purpose.ANALYTICS, True, EVENT)]


def test_gpc_outranks_advertising_grant_in_same_request() -> None:
    decisions = decisions_from_context({"advertising": True, "analytics": True}, gpc=True)
    assert decisions == [(Purpose.ANALYTICS, True, EVENT), (Purpose.ADVERTISING, False, GPC)]


def test_necessary_cannot_be_switched_off_from_an_event() -> None:
    assert decisions_from_context({"necessary": False}, gpc=False) == []


def test_only_changed_decisions_reach_the_ledger() -> None:
    state = {Purpose.ANALYTICS: PurposeState(True, EVENT, T0)}
    assert changes(state, [(Purpose.ANALYTICS, True, EVENT), (Purpose.PERSONALIZATION, True, EVENT)]) == [
        (Purpose.PERSONALIZATION, True, EVENT)
    ]


def test_merging_keeps_a_denial_from_either_side() -> None:
    a = {Purpose.MARKETING_EMAIL: PurposeState(True, API, T0)}
    b = {Purpose.MARKETING_EMAIL: PurposeState(False, API, T0 - timedelta(days=1))}
    assert combine_most_restrictive(a, b)[Purpose.MARKETING_EMAIL].granted is False


def test_merging_keeps_a_grant_only_when_both_sides_granted() -> None:
    a = {Purpose.ANALYTICS: PurposeState(True, API, T0), Purpose.ADVERTISING: PurposeState(True, API, T0)}
    b = {Purpose.ANALYTICS: PurposeState(True, EVENT, T0 + timedelta(hours=1))}
    combined = combine_most_restrictive(a, b)
    assert combined == {Purpose.ANALYTICS: PurposeState(True, EVENT, T0 + timedelta(hours=1))}
