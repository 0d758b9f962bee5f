import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.retention import DataKind, RetentionChange


@strawberry.type
class SetRetention:
    @strawberry.mutation(
        description="Keep one kind of data `days` days (1 to 3653) and re-stamp what is stored; sending "
        "the same value again re-runs the re-stamp.",
        extensions=allow(Role.ADMIN),
    )
    async def set_retention(
        self,
        info: Info,
        kind: DataKind,
        days: int,
    ) -> RetentionChange:
        change = await info.context.services.retention.set_days(info.context.principal, kind, days)
        return RetentionChange.of(change)
