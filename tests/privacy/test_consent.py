import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.consent import (
    ConsentEntry,
    PurposeState,
    apply_entry,
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
ANALYTICS, ADVERTISING = Purpose.ANALYTICS, Purpose.ADVERTISING
OPT_IN, OPT_OUT = ConsentMode.OPT_IN, ConsentMode.OPT_OUT


def _chain(*decisions: tuple[Purpose, bool, int], profile_id: str = "p1") -> list[ConsentEntry]:
    """Entries appended in order; each decision is (purpose, granted, minutes after T0)."""
    entries: list[ConsentEntry] = []
    for purpose, granted, minutes in decisions:
        entries.append(
            ledger_entry(
                profile_id=profile_id,
                purpose=purpose,
                granted=granted,
                source=API,
                policy_version="v1",
                at=T0 + timedelta(minutes=minutes),
                prev_hash=entries[-1].hash if entries else None,
            )
        )
    return entries


def _state(granted: bool, minutes: int = 0, source: ConsentSource = API) -> PurposeState:
    return PurposeState(granted, source, T0 + timedelta(minutes=minutes))


THREE = ((ANALYTICS, True, 0), (ANALYTICS, False, 5), (ADVERTISING, True, 9))


# The ledger


def test_the_first_entry_of_a_profile_links_to_the_empty_hash() -> None:
    assert _chain((ANALYTICS, True, 0))[0].prev_hash == ""


def test_an_entry_links_to_the_hash_of_the_one_before() -> None:
    first, second = _chain((ANALYTICS, True, 0), (ANALYTICS, False, 5))
    assert second.prev_hash == first.hash


def test_the_hash_is_sha256_of_the_sorted_canonical_json_of_every_other_field() -> None:
    entry = _chain((ANALYTICS, True, 0))[0]
    canonical = json.dumps(
        {
            "at": "2026-01-01T00:00:00.000+00:00",
            "granted": True,
            "policy_version": "v1",
            "prev_hash": "",
            "profile_id": "p1",
            "purpose": "analytics",
            "source": "api",
        },
        sort_keys=True,
    )
    assert entry.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_entry_times_keep_the_milliseconds_mongodb_stores() -> None:
    at = datetime(2026, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)
    entry = ledger_entry(
        profile_id="p1",
        purpose=ANALYTICS,
        granted=True,
        source=API,
        policy_version=None,
        at=at,
        prev_hash=None,
    )
    assert entry.at == datetime(2026, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)


def test_an_entry_made_in_another_time_zone_is_stored_and_hashed_in_utc() -> None:
    paris = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    local = ledger_entry(
        profile_id="p1",
        purpose=ANALYTICS,
        granted=True,
        source=API,
        policy_version="v1",
        at=paris,
        prev_hash=None,
    )
    assert (local.at.utcoffset(), local.hash) == (timedelta(0), _chain((ANALYTICS, True, 0))[0].hash)


def test_an_entry_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        ledger_entry(
            profile_id="p1",
            purpose=ANALYTICS,
            granted=True,
            source=API,
            policy_version=None,
            at=datetime(2026, 1, 1),
            prev_hash=None,
        )


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(_chain(*THREE)) is None


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]) is None


def test_an_altered_decision_is_reported_at_its_index() -> None:
    entries = _chain(*THREE)
    assert verify_chain([entries[0], replace(entries[1], granted=True), entries[2]]) == 1


def test_an_altered_time_is_reported_at_its_index() -> None:
    entries = _chain(*THREE)
    moved = replace(entries[2], at=entries[2].at - timedelta(days=1))
    assert verify_chain([*entries[:2], moved]) == 2


def test_an_altered_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries = _chain(*THREE)
    forged = ledger_entry(
        profile_id="p1",
        purpose=ANALYTICS,
        granted=True,
        source=API,
        policy_version="v1",
        at=entries[1].at,
        prev_hash=entries[0].hash,
    )
    assert verify_chain([entries[0], forged, entries[2]]) == 2


def test_a_removed_entry_breaks_the_link_of_the_next() -> None:
    entries = _chain(*THREE)
    assert verify_chain([entries[0], entries[2]]) == 1


def test_a_removed_first_entry_is_reported_at_index_zero() -> None:
    assert verify_chain(_chain(*THREE)[1:]) == 0


def test_a_chain_whose_oldest_entries_expired_verifies_from_the_oldest_remaining() -> None:
    assert verify_chain(_chain(*THREE)[1:], truncated=True) is None
    assert verify_chain(_chain(*THREE)[2:], truncated=True) is None


def test_after_expiry_an_altered_or_removed_later_entry_is_still_found() -> None:
    remaining = _chain(*THREE)[1:]
    altered = replace(remaining[1], granted=not remaining[1].granted)
    assert verify_chain([remaining[0], altered], truncated=True) == 1
    assert verify_chain([*_chain(*THREE)[:1], remaining[1]], truncated=True) == 1


def test_after_expiry_an_altered_oldest_remaining_entry_is_still_found() -> None:
    remaining = _chain(*THREE)[1:]
    altered = replace(remaining[0], granted=not remaining[0].granted)
    assert verify_chain([altered, remaining[1]], truncated=True) == 0


def test_swapped_entries_break_the_chain() -> None:
    entries = _chain(*THREE)
    assert verify_chain([entries[0], entries[2], entries[1]]) == 1


def test_an_entry_of_another_profile_breaks_the_chain_even_when_linked() -> None:
    entries = _chain(*THREE)
    stranger = ledger_entry(
        profile_id="p2",
        purpose=ANALYTICS,
        granted=True,
        source=API,
        policy_version="v1",
        at=T0 + timedelta(minutes=20),
        prev_hash=entries[-1].hash,
    )
    assert verify_chain([*entries, stranger]) == 3


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("field", ["granted", "source", "policy_version", "purpose", "prev_hash"])
def test_any_altered_field_of_any_entry_is_found_at_that_entry(index: int, field: str) -> None:
    entries = _chain(*THREE)
    altered = {
        "granted": not entries[index].granted,
        "source": EVENT,
        "policy_version": "v2",
        "purpose": Purpose.MARKETING_SMS,
        "prev_hash": "0" * 64,
    }
    tampered = [*entries[:index], replace(entries[index], **{field: altered[field]}), *entries[index + 1 :]]
    assert verify_chain(tampered) == index


# State


def test_applying_an_entry_returns_a_new_state_and_leaves_the_old_one_alone() -> None:
    before = {ANALYTICS: _state(True)}
    entry = _chain((ANALYTICS, False, 5))[0]
    after = apply_entry(before, entry)
    assert (before, after) == ({ANALYTICS: _state(True)}, {ANALYTICS: _state(False, 5)})


def test_state_at_a_past_moment_replays_only_the_entries_made_by_then() -> None:
    entries = _chain((ANALYTICS, True, 0), (ANALYTICS, False, 10))
    assert state_at(entries, T0 + timedelta(minutes=5)) == {ANALYTICS: _state(True, 0)}


def test_state_at_includes_an_entry_made_at_that_very_moment() -> None:
    entries = _chain((ANALYTICS, True, 0), (ANALYTICS, False, 10))
    assert state_at(entries, T0 + timedelta(minutes=10)) == {ANALYTICS: _state(False, 10)}


def test_state_before_the_first_entry_is_empty() -> None:
    assert state_at(_chain((ANALYTICS, True, 0)), T0 - timedelta(seconds=1)) == {}


def test_state_follows_the_time_decisions_took_effect_not_append_order() -> None:
    entries = _chain((ANALYTICS, True, 10), (ANALYTICS, False, 5))
    assert state_at(entries, T0 + timedelta(hours=1))[ANALYTICS].granted is True


# Reading the state

GRANTED_TABLE = [
    (OPT_IN, None, False),
    (OPT_IN, True, True),
    (OPT_IN, False, False),
    (OPT_OUT, None, True),
    (OPT_OUT, True, True),
    (OPT_OUT, False, False),
]


@pytest.mark.parametrize(("mode", "decided", "expected"), GRANTED_TABLE)
def test_is_granted_follows_the_consent_mode(mode: ConsentMode, decided: bool | None, expected: bool) -> None:
    state = {} if decided is None else {ANALYTICS: _state(decided)}
    assert is_granted(state, ANALYTICS, mode) is expected


@pytest.mark.parametrize("mode", list(ConsentMode))
def test_necessary_is_granted_even_after_a_denial(mode: ConsentMode) -> None:
    assert is_granted({Purpose.NECESSARY: _state(False)}, Purpose.NECESSARY, mode) is True


def test_an_opt_in_snapshot_without_decisions_grants_only_necessary() -> None:
    assert snapshot({}, OPT_IN) == {
        "necessary": True,
        "analytics": False,
        "personalization": False,
        "marketing_email": False,
        "marketing_sms": False,
        "advertising": False,
    }


def test_an_opt_out_snapshot_grants_everything_not_denied() -> None:
    assert snapshot({ADVERTISING: _state(False, source=GPC)}, OPT_OUT) == {
        "necessary": True,
        "analytics": True,
        "personalization": True,
        "marketing_email": True,
        "marketing_sms": True,
        "advertising": False,
    }


# Decisions arriving on events


def test_category_preferences_become_event_decisions_in_their_order() -> None:
    assert decisions_from_context({"personalization": False, "analytics": True}, gpc=False) == [
        (Purpose.PERSONALIZATION, False, EVENT),
        (ANALYTICS, True, EVENT),
    ]


def test_unknown_categories_are_ignored() -> None:
    assert decisions_from_context({"Analytics": True, "functional": True}, gpc=False) == []


def test_non_boolean_preferences_are_ignored() -> None:
    assert (
        decisions_from_context({"analytics": "yes", "advertising": 1, "marketing_sms": None}, gpc=False) == []
    )


def test_necessary_cannot_be_switched_off_from_an_event() -> None:
    assert decisions_from_context({"necessary": False}, gpc=False) == []


def test_no_preferences_and_no_gpc_decide_nothing() -> None:
    assert decisions_from_context(None, gpc=False) == []


def test_gpc_alone_denies_advertising_with_source_gpc() -> None:
    assert decisions_from_context(None, gpc=True) == [(ADVERTISING, False, GPC)]


def test_gpc_outranks_advertising_grant_in_same_request() -> None:
    assert decisions_from_context({"advertising": True, "analytics": True}, gpc=True) == [
        (ANALYTICS, True, EVENT),
        (ADVERTISING, False, GPC),
    ]


def test_gpc_does_not_touch_other_purposes() -> None:
    assert decisions_from_context({"marketing_email": True}, gpc=True) == [
        (Purpose.MARKETING_EMAIL, True, EVENT),
        (ADVERTISING, False, GPC),
    ]


def test_only_changed_decisions_reach_the_ledger() -> None:
    state = {ANALYTICS: _state(True, source=EVENT)}
    decisions = [(ANALYTICS, True, EVENT), (Purpose.PERSONALIZATION, True, EVENT)]
    assert changes(state, decisions) == [(Purpose.PERSONALIZATION, True, EVENT)]


def test_a_reversal_is_a_change() -> None:
    assert changes({ANALYTICS: _state(True)}, [(ANALYTICS, False, EVENT)]) == [(ANALYTICS, False, EVENT)]


def test_a_repeat_within_one_list_is_recorded_once() -> None:
    assert changes({}, [(ANALYTICS, True, EVENT), (ANALYTICS, True, API)]) == [(ANALYTICS, True, EVENT)]


def test_the_same_preferences_on_every_event_grow_the_ledger_once() -> None:
    preferences = {"analytics": True, "advertising": False}
    state: dict[Purpose, PurposeState] = {}
    recorded = 0
    for minute in range(3):
        for purpose, granted, source in changes(state, decisions_from_context(preferences, gpc=False)):
            entry = ledger_entry(
                profile_id="p1",
                purpose=purpose,
                granted=granted,
                source=source,
                policy_version=None,
                at=T0 + timedelta(minutes=minute),
                prev_hash=None,
            )
            state = apply_entry(state, entry)
            recorded += 1
    assert recorded == 2


# Merging two profiles


def test_merging_keeps_a_denial_from_either_side() -> None:
    a = {Purpose.MARKETING_EMAIL: _state(True, 60)}
    b = {Purpose.MARKETING_EMAIL: _state(False, 0, EVENT)}
    assert combine_most_restrictive(a, b) == {Purpose.MARKETING_EMAIL: _state(False, 0, EVENT)}


def test_merging_two_denials_keeps_the_later() -> None:
    a = {ANALYTICS: _state(False, 0)}
    b = {ANALYTICS: _state(False, 30, GPC)}
    assert combine_most_restrictive(a, b) == {ANALYTICS: _state(False, 30, GPC)}


def test_merging_two_grants_keeps_the_later() -> None:
    a = {ANALYTICS: _state(True, 60, EVENT)}
    b = {ANALYTICS: _state(True, 0)}
    assert combine_most_restrictive(a, b) == {ANALYTICS: _state(True, 60, EVENT)}


def test_merging_drops_a_grant_the_other_side_never_gave() -> None:
    assert combine_most_restrictive({ADVERTISING: _state(True)}, {}) == {}


def test_merging_keeps_a_denial_the_other_side_never_contradicted() -> None:
    assert combine_most_restrictive({}, {ADVERTISING: _state(False)}) == {ADVERTISING: _state(False)}


def test_merging_leaves_both_states_untouched() -> None:
    a = {ANALYTICS: _state(True)}
    b = {ANALYTICS: _state(False, 5)}
    combine_most_restrictive(a, b)
    assert (a, b) == ({ANALYTICS: _state(True)}, {ANALYTICS: _state(False, 5)})


states = st.dictionaries(
    st.sampled_from(list(Purpose)),
    st.builds(
        PurposeState,
        granted=st.booleans(),
        source=st.sampled_from(list(ConsentSource)),
        at=st.integers(0, 10_000).map(lambda m: T0 + timedelta(minutes=m)),
    ),
)


@given(a=states, b=states, mode=st.sampled_from(list(ConsentMode)), purpose=st.sampled_from(list(Purpose)))
def test_a_merged_profile_is_never_granted_what_either_side_was_not(
    a: dict[Purpose, PurposeState], b: dict[Purpose, PurposeState], mode: ConsentMode, purpose: Purpose
) -> None:
    merged = is_granted(combine_most_restrictive(a, b), purpose, mode)
    assert merged <= (is_granted(a, purpose, mode) and is_granted(b, purpose, mode))


@given(a=states, b=states)
def test_merging_decides_the_same_whichever_side_is_first(
    a: dict[Purpose, PurposeState], b: dict[Purpose, PurposeState]
) -> None:
    def decisions(state: dict[Purpose, PurposeState]) -> dict[Purpose, bool]:
        return {purpose: s.granted for purpose, s in state.items()}

    assert decisions(combine_most_restrictive(a, b)) == decisions(combine_most_restrictive(b, a))
