from datetime import datetime

import strawberry

from server.domain.event import StoredEvent
from server.graphql.types.enums import Phase
from server.graphql.types.profile import PageInfo
from server.graphql.types.scalars import JSON


@strawberry.type(description="A stored event: minimized, with its phase, value and channel.")
class Event:
    id: strawberry.ID
    event: str
    type: str
    timestamp: datetime
    received_at: datetime
    phase: Phase | None
    value: float
    planned: bool
    channel: str
    campaign: str | None
    properties: JSON

    @classmethod
    def of(cls, event: StoredEvent) -> "Event":
        return cls(
            id=strawberry.ID(event.id),
            event=event.name,
            type=event.type,
            timestamp=event.timestamp,
            received_at=event.received_at,
            phase=event.phase,
            value=event.value,
            planned=event.planned,
            channel=event.channel,
            campaign=event.campaign,
            properties=JSON(event.properties),
        )


@strawberry.type
class EventEdge:
    cursor: str
    node: Event


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo
