import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.taxonomy import EventDefinition, UnplannedEvent

_ALL_READERS = (Role.INGEST, Role.PERSONALIZATION, Role.ANALYST, Role.COMPLIANCE)


@strawberry.type
class TaxonomyQueries:
    @strawberry.field(
        description="The workspace's micro-conversion taxonomy: phase, value and purpose per event.",
        extensions=allow(*_ALL_READERS),
    )
    async def taxonomy(self, info: Info) -> list[EventDefinition]:
        definitions = await info.context.services.taxonomy.definitions(info.context.principal.workspace_id)
        return [EventDefinition.of(d) for d in sorted(definitions.values(), key=lambda d: d.name)]

    @strawberry.field(
        description="Event names seen in traffic but missing from the taxonomy, most frequent first.",
        extensions=allow(Role.ANALYST),
    )
    async def unplanned_events(self, info: Info, first: int = 50) -> list[UnplannedEvent]:
        rows = await info.context.services.taxonomy.unplanned(info.context.principal.workspace_id, first)
        return [UnplannedEvent(name=n, count=c, last_seen=at) for n, c, at in rows]
