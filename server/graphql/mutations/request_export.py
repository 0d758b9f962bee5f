import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.dsr import DsrRequest, Regulation, SubjectInput


@strawberry.type
class RequestExport:
    @strawberry.mutation(
        description="Export everything held about a subject as one JSON document, through a one-time link. "
        "`regulation` defaults to GDPR, whose 30-day deadline is the shorter.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def request_export(
        self,
        info: Info,
        subject: SubjectInput,
        regulation: Regulation = Regulation.GDPR,
    ) -> DsrRequest:
        dsr = info.context.services.dsr
        record, url = await dsr.request_export(
            info.context.principal,
            subject.to_domain(),
            regulation,
            base_url=str(info.context.request.base_url),
        )
        return DsrRequest.of(record, overdue=False, download_url=url)
