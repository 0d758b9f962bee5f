from datetime import datetime
from typing import Annotated

import strawberry

from server.domain.access import Role
from server.domain.errors import NotFound
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.audience import Audience, AudienceSizePoint


@strawberry.type
class AudienceQueries:
    @strawberry.field(
        description="The workspace's audiences, oldest first.",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def audiences(self, info: Info) -> list[Audience]:
        return [Audience.of(a) for a in await info.context.services.audiences.all(info.context.principal)]

    @strawberry.field(
        description="One audience by id; null if the workspace has none.",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def audience(self, info: Info, id: strawberry.ID) -> Audience | None:
        try:
            return Audience.of(await info.context.services.audiences.get(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(
        description="An audience's size at the end of each UTC day from `from` to `to` (at most 366 days).",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def audience_size_history(
        self,
        info: Info,
        id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[AudienceSizePoint]:
        points = await info.context.services.audiences.size_history(
            info.context.principal, str(id), from_, to
        )
        return [AudienceSizePoint(day=p.day, size=p.size) for p in points]
