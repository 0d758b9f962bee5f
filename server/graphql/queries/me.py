import strawberry

from server.domain.access import CustomerScope
from server.graphql.context import Info
from server.graphql.permissions import customer_only
from server.graphql.types.customer import Me


@strawberry.type
class MeQueries:
    @strawberry.field(
        description="The customer this customer token speaks for (customer tokens only).",
        extensions=customer_only(CustomerScope.READ),
    )
    async def me(self, info: Info) -> Me:
        return Me.of(await info.context.services.customers.me(info.context.principal))
