import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.dsr import DsrRequest, Regulation, SubjectInput


@strawberry.type
class RequestErasure:
    @strawberry.mutation(
        description="Erase a subject from every collection (crypto-shredding their keys) and suppress their "
        "identifiers. Asking again for the same subject resumes an unfinished erasure. `regulation` "
        "defaults to GDPR, whose 30-day deadline is the shorter.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def request_erasure(
        self,
        info: Info,
        subject: SubjectInput,
        regulation: Regulation = Regulation.GDPR,
    ) -> DsrRequest:
        dsr = info.context.services.dsr
        record = await dsr.request_erasure(info.context.principal, subject.to_domain(), regulation)
        return DsrRequest.of(record, overdue=dsr.is_overdue(record))
