import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.dsr import DsrRequest, Regulation, SubjectInput


@strawberry.type
class OptOut:
    @strawberry.mutation(
        description="Opt a subject out of sale/share (advertising = false), tracked as a request.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def opt_out(
        self, info: Info, subject: SubjectInput, regulation: Regulation = Regulation.CCPA
    ) -> DsrRequest:
        dsr = info.context.services.dsr
        record = await dsr.opt_out(info.context.principal, subject.to_domain(), regulation)
        return DsrRequest.of(record, overdue=False)
