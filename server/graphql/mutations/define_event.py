import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.taxonomy import EventDefinition, EventDefinitionInput


@strawberry.type
class DefineEvent:
    @strawberry.mutation(
        description="Add or replace an event definition in the workspace's taxonomy.",
        extensions=allow(Role.ADMIN),
    )
    async def define_event(self, info: Info, input: EventDefinitionInput) -> EventDefinition:
        saved = await info.context.services.taxonomy.define(info.context.principal, input.to_domain())
        return EventDefinition.of(saved)
