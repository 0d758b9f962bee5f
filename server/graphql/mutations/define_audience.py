import strawberry

from privacy.purposes import Purpose
from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import Audience, AudienceInput, NewAudience


@strawberry.type
class DefineAudience:
    @strawberry.mutation(
        description="A live audience; its members are evaluated at once and kept up to date.",
        extensions=allow(Role.ANALYST),
    )
    async def define_audience(self, info: Info, input: AudienceInput) -> NewAudience:
        stored, secret = await info.context.services.audiences.define(
            info.context.principal,
            name=input.name,
            rule=input.rule.data(),
            purpose=Purpose[input.purpose.name] if input.purpose else None,
            webhook_url=input.webhook_url,
        )
        return NewAudience(audience=Audience.of(stored), webhook_secret=secret)
