import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow


@strawberry.type
class DeleteAudience:
    @strawberry.mutation(
        description="Delete an audience with its members and history.", extensions=allow(Role.ANALYST)
    )
    async def delete_audience(self, info: Info, id: strawberry.ID) -> bool:
        await info.context.services.audiences.delete(info.context.principal, str(id))
        return True
