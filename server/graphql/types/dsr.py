from datetime import datetime
from typing import TypeAlias

import strawberry

from privacy.erasure import DsrKind as DomainKind
from privacy.erasure import DsrStatus as DomainStatus
from privacy.erasure import Regulation as DomainRegulation
from server.domain.dsr import DsrRecord
from server.graphql.types.profile import PageInfo
from server.graphql.types.scalars import JSON
from server.services.dsr import Subject

Regulation: TypeAlias = DomainRegulation
strawberry.enum(DomainRegulation, name="Regulation", description="GDPR: 30-day deadline; CCPA: 45.")
DsrStatus: TypeAlias = DomainStatus
strawberry.enum(DomainStatus, name="DsrStatus")
DsrKind: TypeAlias = DomainKind
strawberry.enum(DomainKind, name="DsrKind")


@strawberry.input(description="A data subject, by any identifier we may hold for them.")
class SubjectInput:
    profile_id: strawberry.ID | None = None
    user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    anonymous_id: str | None = None

    def to_domain(self) -> Subject:
        return Subject(
            profile_id=str(self.profile_id) if self.profile_id else None,
            user_id=self.user_id,
            email=self.email,
            phone=self.phone,
            anonymous_id=self.anonymous_id,
        )


@strawberry.type(description="A data-subject request and its outcome.")
class DsrRequest:
    id: strawberry.ID
    kind: DsrKind
    regulation: Regulation
    status: DsrStatus
    received_at: datetime
    deadline: datetime
    completed_at: datetime | None
    overdue: bool
    error: str | None
    result: JSON = strawberry.field(
        description="Erasure: documents removed per collection. Export: what was found."
    )
    download_url: str | None = strawberry.field(
        default=None, description="Export only, in the response that created it: a one-time link, valid 24 h."
    )

    @classmethod
    def of(cls, record: DsrRecord, *, overdue: bool, download_url: str | None = None) -> "DsrRequest":
        result = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.result.items()}
        return cls(
            id=strawberry.ID(record.id),
            kind=record.kind,
            regulation=record.regulation,
            status=record.status,
            received_at=record.received_at,
            deadline=record.deadline,
            completed_at=record.completed_at,
            overdue=overdue,
            error=record.error,
            result=JSON(result),
            download_url=download_url,
        )


@strawberry.type
class DsrRequestEdge:
    cursor: str
    node: DsrRequest


@strawberry.type
class DsrRequestConnection:
    edges: list[DsrRequestEdge]
    page_info: PageInfo


@strawberry.type(description="One audit trail entry: who did what, when, to which (pseudonymous) profile.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    action: str
    profile_id: str | None
    details: JSON


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo
