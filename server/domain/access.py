"""Who may do what: roles, the authenticated principal, and the role each operation needs."""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    INGEST = "INGEST"  # write-only, safe in a browser
    PERSONALIZATION = "PERSONALIZATION"  # scores, no PII
    ANALYST = "ANALYST"  # aggregates, journeys, pseudonymous ids
    COMPLIANCE = "COMPLIANCE"  # DSRs, exports, audit, PII reads (audited)
    ADMIN = "ADMIN"  # keys, taxonomy, settings and everything above


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a key of one workspace with one role."""

    workspace_id: str
    role: Role
    key_id: str

    def may(self, allowed: frozenset[Role]) -> bool:
        """ADMIN may do everything; any other role only what names it."""
        return self.role is Role.ADMIN or self.role in allowed

    @property
    def sees_pii(self) -> bool:
        return self.role in (Role.COMPLIANCE, Role.ADMIN)
