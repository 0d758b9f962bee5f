from typing import Annotated, Any

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.ingest import EventInput, IngestResult


@strawberry.type
class TrackEvents:
    @strawberry.mutation(
        description="Ingest up to 500 messages; valid ones are stored once, invalid ones reported by index.",
        extensions=allow(Role.INGEST),
    )
    async def track_events(
        self,
        info: Info,
        # Typed EventInput in the schema, handed over as the messages Segment would send (see EventInput).
        events: Annotated[list[dict[str, Any]], strawberry.argument(graphql_type=list[EventInput])],
    ) -> IngestResult:
        gpc = info.context.request.headers.get("sec-gpc") == "1"
        result = await info.context.services.ingest.ingest(info.context.principal, events, gpc=gpc)
        return IngestResult.of(result)
