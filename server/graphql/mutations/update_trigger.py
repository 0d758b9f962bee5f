import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.trigger import Trigger, TriggerUpdateInput


@strawberry.type
class UpdateTrigger:
    @strawberry.mutation(
        description="Change a trigger of the caller's workspace (its id and signing secret stay).",
        extensions=allow(Role.ADMIN),
    )
    async def update_trigger(self, info: Info, id: strawberry.ID, input: TriggerUpdateInput) -> Trigger:
        trigger = await info.context.services.triggers.update(
            info.context.principal,
            str(id),
            name=input.name,
            action=input.action,
            reached=input.reached_phase,
            within_minutes=input.within_minutes,
            url=input.url,
            since=input.since,
        )
        return Trigger.of(trigger)
