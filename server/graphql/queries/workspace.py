import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.workspace import WorkspaceSettings


@strawberry.type
class WorkspaceQueries:
    @strawberry.field(description="The workspace's settings.", extensions=allow(Role.ADMIN))
    async def workspace_settings(self, info: Info) -> WorkspaceSettings:
        return WorkspaceSettings.of(await info.context.services.workspaces.get(info.context.principal))
