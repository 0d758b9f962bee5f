"""Data-subject requests as rules: deadlines, the order erasure runs in, and what is kept as proof."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Regulation(StrEnum):
    GDPR = "GDPR"
    CCPA = "CCPA"


class DsrKind(StrEnum):
    ERASURE = "ERASURE"
    EXPORT = "EXPORT"
    OPT_OUT = "OPT_OUT"


class DsrStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


_DEADLINES = {Regulation.GDPR: timedelta(days=30), Regulation.CCPA: timedelta(days=45)}


def deadline(regulation: Regulation, received_at: datetime) -> datetime:
    """GDPR Art. 12(3): one month (30 days here); CCPA §7021: 45 days."""
    return received_at + _DEADLINES[regulation]


def overdue(status: DsrStatus, due: datetime, now: datetime) -> bool:
    """An unfinished request past its deadline."""
    return status is not DsrStatus.COMPLETED and now > due


class Step(StrEnum):
    """Erasure in an order that is safe to stop anywhere and run again from the start: first, in
    one transaction that conflicts with any batch in flight for the same customer, every identifier
    is suppressed, the data keys are deleted (every copy of the personal fields becomes unreadable)
    and the profiles are deleted; nothing of the customer can be stored after it. Then the rows that
    hang off the profiles, in bounded chunks; then what other records say about them."""

    SUPPRESS = "suppress"
    EVENTS = "events"
    RECEIPTS = "receipts"
    CONSENT = "consent_ledger"
    MERGES = "merges"
    DERIVED = "derived"  # webhook deliveries, other requests' profile ids
    AUDIT = "audit_log"


@dataclass(frozen=True)
class Identifiers:
    """Every identifier of a subject, normalized: what the suppression list must block."""

    user_ids: frozenset[str]
    anonymous_ids: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, value) for every identifier, in a stable order."""
        return sorted(
            [("user_id", v) for v in self.user_ids]
            + [("anonymous_id", v) for v in self.anonymous_ids]
            + [("email", v) for v in self.emails]
            + [("phone", v) for v in self.phones]
        )
