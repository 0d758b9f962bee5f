import strawberry

from server.domain.access import CustomerScope
from server.graphql.context import Info
from server.graphql.permissions import customer_only
from server.graphql.types.dsr import DsrRequest, Regulation


@strawberry.type
class RequestMyExport:
    @strawberry.mutation(
        description="The customer asks for their data: a tracked request and a one-time download link.",
        extensions=customer_only(CustomerScope.DSR),
    )
    async def request_my_export(self, info: Info, regulation: Regulation = Regulation.GDPR) -> DsrRequest:
        record, url = await info.context.services.customers.request_export(
            info.context.principal, regulation, base_url=str(info.context.request.base_url)
        )
        return DsrRequest.of(record, overdue=False, download_url=url)
