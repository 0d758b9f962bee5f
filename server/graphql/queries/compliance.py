import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.dsr import (
    AuditEntry,
    AuditEntryConnection,
    AuditEntryEdge,
    DsrRequest,
    DsrRequestConnection,
    DsrRequestEdge,
    DsrStatus,
)
from server.graphql.types.profile import PageInfo
from server.graphql.types.scalars import JSON


@strawberry.type
class ComplianceQueries:
    @strawberry.field(description="One data-subject request.", extensions=allow(Role.COMPLIANCE))
    async def dsr_request(self, info: Info, id: strawberry.ID) -> DsrRequest | None:
        dsr = info.context.services.dsr
        record = await dsr.get(info.context.principal, str(id))
        return DsrRequest.of(record, overdue=dsr.is_overdue(record)) if record else None

    @strawberry.field(
        description="Data-subject requests, newest first; `overdue: true` lists unfinished ones past their "
        "deadline.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def dsr_requests(
        self,
        info: Info,
        status: DsrStatus | None = None,
        overdue: bool = False,
        first: int = 50,
        after: str | None = None,
    ) -> DsrRequestConnection:
        dsr = info.context.services.dsr
        page = await dsr.page(
            info.context.principal,
            status=status,
            only_overdue=overdue,
            first=first,
            after=after,
        )
        return DsrRequestConnection(
            edges=[
                DsrRequestEdge(cursor=cursor, node=DsrRequest.of(r, overdue=dsr.is_overdue(r)))
                for cursor, r in page
            ],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(
        description="The audit trail, newest first: DSR actions, PII reads, key changes, denied calls.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def audit_log(
        self,
        info: Info,
        profile_id: strawberry.ID | None = None,
        action: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditEntryConnection:
        page = await info.context.services.audit.page(
            info.context.principal,
            profile_id=str(profile_id) if profile_id else None,
            action=action,
            first=first,
            after=after,
        )
        edges = [
            AuditEntryEdge(
                cursor=cursor,
                node=AuditEntry(
                    id=strawberry.ID(e.id),
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    profile_id=e.profile_id,
                    details=JSON(e.details),
                ),
            )
            for cursor, e in page
        ]
        return AuditEntryConnection(edges=edges, page_info=PageInfo.of(page))
