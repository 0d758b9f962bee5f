import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.workspace import WorkspaceSettings, WorkspaceSettingsInput


@strawberry.type
class UpdateWorkspaceSettings:
    @strawberry.mutation(description="Change the workspace's settings.", extensions=allow(Role.ADMIN))
    async def update_workspace_settings(self, info: Info, input: WorkspaceSettingsInput) -> WorkspaceSettings:
        updated = await info.context.services.workspaces.update(info.context.principal, input.changes())
        return WorkspaceSettings.of(updated)
