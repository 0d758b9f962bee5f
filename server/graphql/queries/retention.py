import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.retention import RetentionRow


@strawberry.type
class RetentionQueries:
    @strawberry.field(
        description="Per retained collection: its retention period, size, what expires in the next 30 days "
        "and the oldest document's age.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def retention_report(self, info: Info) -> list[RetentionRow]:
        rows = await info.context.services.retention.report(info.context.principal)
        return [RetentionRow.of(row) for row in rows]
