import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.api_key import NewApiKey
from server.graphql.types.enums import Role as RoleEnum


@strawberry.type
class CreateApiKey:
    @strawberry.mutation(
        description="Create a key of `role` in the caller's workspace; the secret is shown once.",
        extensions=allow(Role.ADMIN),
    )
    async def create_api_key(self, info: Info, role: RoleEnum, name: str) -> NewApiKey:
        principal = info.context.principal
        record, secret = await info.context.services.keys.create(
            workspace_id=principal.workspace_id,
            role=role,
            name=name[:100],
            actor=principal.key_id,
        )
        return NewApiKey(id=strawberry.ID(record.id), role=record.role, name=record.name, secret=secret)
