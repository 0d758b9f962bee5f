import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow


@strawberry.type
class DeleteTrigger:
    @strawberry.mutation(
        description="Delete a trigger of the caller's workspace; webhooks it still owed are cancelled.",
        extensions=allow(Role.ADMIN),
    )
    async def delete_trigger(self, info: Info, id: strawberry.ID) -> bool:
        await info.context.services.triggers.delete(info.context.principal, str(id))
        return True
