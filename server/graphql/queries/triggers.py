import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.trigger import Trigger, WebhookDelivery


@strawberry.type
class TriggerQueries:
    @strawberry.field(description="The workspace's next-best-action rules.", extensions=allow(Role.ADMIN))
    async def triggers(self, info: Info) -> list[Trigger]:
        return [Trigger.of(t) for t in await info.context.services.triggers.rules(info.context.principal)]

    @strawberry.field(description="The webhook delivery log, newest first.", extensions=allow(Role.ANALYST))
    async def webhook_deliveries(
        self, info: Info, trigger_id: strawberry.ID | None = None, first: int = 50
    ) -> list[WebhookDelivery]:
        rows = await info.context.services.triggers.deliveries(
            info.context.principal, str(trigger_id) if trigger_id else None, first
        )
        return [WebhookDelivery.of(r) for r in rows]
