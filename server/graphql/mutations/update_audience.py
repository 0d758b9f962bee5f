import strawberry

from privacy.purposes import Purpose
from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import Audience, AudienceInput


@strawberry.type
class UpdateAudience:
    @strawberry.mutation(
        description="Replace an audience's definition (its id and history stay); members re-evaluated.",
        extensions=allow(Role.ANALYST),
    )
    async def update_audience(self, info: Info, id: strawberry.ID, input: AudienceInput) -> Audience:
        stored = await info.context.services.audiences.update(
            info.context.principal,
            str(id),
            name=input.name,
            rule=input.rule.data(),
            purpose=Purpose[input.purpose.name] if input.purpose else None,
            webhook_url=input.webhook_url,
        )
        return Audience.of(stored)
