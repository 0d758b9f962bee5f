import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.trigger import NewTrigger, Trigger, TriggerInput


@strawberry.type
class DefineTrigger:
    @strawberry.mutation(
        description="A rule that fires a signed webhook once per journey (evaluated in the background).",
        extensions=allow(Role.ADMIN),
    )
    async def define_trigger(self, info: Info, input: TriggerInput) -> NewTrigger:
        trigger, secret = await info.context.services.triggers.define(
            info.context.principal,
            name=input.name,
            action=input.action,
            reached=input.reached_phase,
            within_minutes=input.within_minutes,
            url=input.url,
            since=input.since,
        )
        return NewTrigger(trigger=Trigger.of(trigger), secret=secret)
