import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.api_key import ApiKey


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="The workspace's API keys, newest first (secrets are never shown).",
        extensions=allow(Role.ADMIN),
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        records = await info.context.services.keys.list(info.context.principal.workspace_id)
        return [ApiKey.of(record) for record in records]
