from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.retention import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MIN_DAYS,
    DataKind,
    age_days,
    days_of,
    expires_at,
    expiry_cutoff,
    in_bounds,
    is_expired,
    period,
    profile_expiry,
    with_days,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
periods = st.integers(min_value=MIN_DAYS, max_value=MAX_DAYS).map(lambda d: timedelta(days=d))


def test_the_defaults_are_13_months_25_months_5_years_3_years_and_2_years() -> None:
    assert dict(DEFAULT_DAYS) == {
        DataKind.EVENTS: 395,
        DataKind.PROFILES: 760,
        DataKind.CONSENT_LEDGER: 1826,
        DataKind.DSR_REQUESTS: 1096,
        DataKind.AUDIT_LOG: 731,
    }


def test_every_kind_has_a_default_within_bounds() -> None:
    assert set(DEFAULT_DAYS) == set(DataKind)
    assert all(in_bounds(days) for days in DEFAULT_DAYS.values())


@pytest.mark.parametrize(
    ("days", "allowed"), [(0, False), (1, True), (395, True), (3653, True), (3654, False), (-5, False)]
)
def test_a_period_is_one_day_to_ten_years(days: int, allowed: bool) -> None:
    assert in_bounds(days) is allowed


def test_a_kind_the_workspace_never_set_keeps_its_default() -> None:
    chosen = {DataKind.EVENTS: 30}
    assert days_of(chosen, DataKind.EVENTS) == 30
    assert days_of(chosen, DataKind.AUDIT_LOG) == 731
    assert period(chosen, DataKind.PROFILES) == timedelta(days=760)


def test_with_days_returns_a_new_retention_and_leaves_the_old_one_alone() -> None:
    before = {DataKind.EVENTS: 30}
    after = with_days(before, DataKind.AUDIT_LOG, 90)
    assert dict(after) == {DataKind.EVENTS: 30, DataKind.AUDIT_LOG: 90}
    assert before == {DataKind.EVENTS: 30}


def test_a_document_expires_its_period_after_its_basis() -> None:
    assert expires_at(T0, timedelta(days=395)) == datetime(2027, 3, 31, 12, tzinfo=UTC)


@given(basis=times, kept=periods, now=times)
def test_expired_by_its_stamp_and_by_the_cutoff_agree(
    basis: datetime, kept: timedelta, now: datetime
) -> None:
    assert is_expired(expires_at(basis, kept), now) == (basis <= expiry_cutoff(now, kept))


def test_a_document_without_an_expiry_never_expires() -> None:
    assert not is_expired(None, datetime(2999, 1, 1, tzinfo=UTC))


def test_expiry_is_inclusive_of_its_moment() -> None:
    assert is_expired(T0, T0)
    assert not is_expired(T0 + timedelta(milliseconds=1), T0)


def test_a_profile_expires_its_period_after_the_last_activity() -> None:
    assert profile_expiry(T0, {DataKind.PROFILES: 10}) == T0 + timedelta(days=10)
    assert profile_expiry(None, {}) is None


@pytest.mark.parametrize(
    ("oldest", "age"),
    [
        (T0, 0),
        (T0 - timedelta(hours=23), 0),
        (T0 - timedelta(days=1), 1),
        (T0 - timedelta(days=380, hours=5), 380),
    ],
)
def test_the_oldest_age_is_in_whole_days(oldest: datetime, age: int) -> None:
    assert age_days(oldest, T0) == age


def test_nothing_stored_has_no_age() -> None:
    assert age_days(None, T0) is None
