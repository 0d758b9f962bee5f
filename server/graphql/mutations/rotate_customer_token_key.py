import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow


@strawberry.type
class RotateCustomerTokenKey:
    @strawberry.mutation(
        description="Switch the workspace to a new customer-token key: every token minted before is refused.",
        extensions=allow(Role.ADMIN),
    )
    async def rotate_customer_token_key(self, info: Info) -> bool:
        await info.context.services.customer_tokens.rotate(info.context.principal)
        return True
