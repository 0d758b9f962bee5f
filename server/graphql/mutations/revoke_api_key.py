import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow


@strawberry.type
class RevokeApiKey:
    @strawberry.mutation(
        description="Revoke a key of the caller's workspace; it stops working at once.",
        extensions=allow(Role.ADMIN),
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> bool:
        await info.context.services.keys.revoke(info.context.principal, str(id))
        return True
