"""Retention (storage limitation): how long each kind of data is kept, and when a document expires.

A retained document carries its expiry time, computed at write time as basis + period, where the
basis is the moment its kind counts from (an event's timestamp, a profile's last activity, a ledger
entry's or audit entry's time, a request's receipt). Suppressions are not a kind: they never expire,
since they are what keeps an erased customer erased.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class DataKind(StrEnum):
    EVENTS = "events"  # raw behavioural events, from the event's timestamp
    PROFILES = "profiles"  # profiles and the scores stored on them, from the customer's last activity
    CONSENT_LEDGER = "consent_ledger"  # proof of consent, from the decision's time
    DSR_REQUESTS = "dsr_requests"  # data-subject requests, from receipt
    AUDIT_LOG = "audit_log"  # the audit trail, from the entry's time


# Days per kind: 13 months of behaviour; profiles 25 months after last activity (a year-on-year
# comparison plus the events' window); consent proof 5 years; DSR records 3 years (CCPA §7102 asks
# for 24 months); the audit log 2 years.
DEFAULT_DAYS: Mapping[DataKind, int] = MappingProxyType(
    {
        DataKind.EVENTS: 395,
        DataKind.PROFILES: 760,
        DataKind.CONSENT_LEDGER: 1826,
        DataKind.DSR_REQUESTS: 1096,
        DataKind.AUDIT_LOG: 731,
    }
)
MIN_DAYS = 1
MAX_DAYS = 3653  # ten years
REPORT_HORIZON = timedelta(days=30)

Retention = Mapping[DataKind, int]


def in_bounds(days: int) -> bool:
    """A period is 1 day to 10 years."""
    return MIN_DAYS <= days <= MAX_DAYS


def days_of(retention: Retention, kind: DataKind) -> int:
    """The workspace's period for `kind` in days; the default when it never chose one."""
    return retention.get(kind, DEFAULT_DAYS[kind])


def period(retention: Retention, kind: DataKind) -> timedelta:
    """The workspace's period for `kind`."""
    return timedelta(days=days_of(retention, kind))


def with_days(retention: Retention, kind: DataKind, days: int) -> Mapping[DataKind, int]:
    """A new retention with `kind` kept `days` days (bounds are the caller's to check: in_bounds)."""
    return MappingProxyType({**retention, kind: days})


def expires_at(basis: datetime, kept: timedelta) -> datetime:
    """expireAt = basis + period."""
    return basis + kept


def expiry_cutoff(now: datetime, kept: timedelta) -> datetime:
    """now − period: a document whose basis is at or before this has expired."""
    return now - kept


def is_expired(expire_at: datetime | None, now: datetime) -> bool:
    """expireAt ≤ now; a document without expireAt (written before retention existed) is kept."""
    return expire_at is not None and expire_at <= now


def age_days(oldest: datetime | None, now: datetime) -> int | None:
    """Whole days from the oldest basis to `now`; None when there is nothing."""
    return None if oldest is None else (now - oldest) // timedelta(days=1)


def profile_expiry(last_active: datetime | None, retention: Retention) -> datetime | None:
    """A profile (and the scores on it) expires PROFILES days after the customer's last activity;
    one with no recorded activity (written before retention existed) carries no expiry."""
    return None if last_active is None else expires_at(last_active, period(retention, DataKind.PROFILES))
