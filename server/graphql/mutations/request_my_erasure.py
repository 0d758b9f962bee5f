import strawberry

from server.domain.access import CustomerScope
from server.graphql.context import Info
from server.graphql.permissions import customer_only
from server.graphql.types.dsr import DsrRequest, Regulation


@strawberry.type
class RequestMyErasure:
    @strawberry.mutation(
        description="The customer asks for erasure: a tracked request, carried out at once.",
        extensions=customer_only(CustomerScope.DSR),
    )
    async def request_my_erasure(self, info: Info, regulation: Regulation = Regulation.GDPR) -> DsrRequest:
        services = info.context.services
        record = await services.customers.request_erasure(info.context.principal, regulation)
        return DsrRequest.of(record, overdue=services.dsr.is_overdue(record))
