"""Who may do what: roles, the authenticated principal, and the role each operation needs."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    INGEST = "INGEST"  # write-only, safe in a browser
    PERSONALIZATION = "PERSONALIZATION"  # scores, no PII
    ANALYST = "ANALYST"  # aggregates, journeys, pseudonymous ids
    COMPLIANCE = "COMPLIANCE"  # DSRs, exports, audit, PII reads (audited)
    ADMIN = "ADMIN"  # keys, taxonomy, settings and everything above
    CUSTOMER = "CUSTOMER"  # a customer token: one shopper, about themself only; never an API key


KEY_ROLES = tuple(role for role in Role if role is not Role.CUSTOMER)


class CustomerScope(StrEnum):
    """What a customer token may do about its customer; the brand chooses when it mints one."""

    READ = "me:read"  # scores, phase, affinities, next best action, consent and its history
    CONSENT = "me:consent"  # switch a purpose on or off
    DSR = "me:dsr"  # ask for an export or an erasure


@dataclass(frozen=True)
class Customer:
    """The one shopper a customer token speaks for, by the id the brand knows them by."""

    user_id: str | None = None
    anonymous_id: str | None = None
    scopes: frozenset[CustomerScope] = frozenset(CustomerScope)


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a key of one workspace with one role, or a customer token."""

    workspace_id: str
    role: Role
    key_id: str  # for a customer token: "customer-token:<token id>"
    customer: Customer | None = None

    def may(self, allowed: frozenset[Role]) -> bool:
        """Only the roles a field names (the API layer adds ADMIN to every field but a customer's)."""
        return self.role in allowed

    @property
    def sees_pii(self) -> bool:
        return self.role in (Role.COMPLIANCE, Role.ADMIN)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    workspace_id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
