from datetime import datetime

import strawberry

from server.domain.taxonomy import EventDefinition as DomainDefinition
from server.graphql.types.enums import Phase, Purpose


@strawberry.type(description="One step of the micro-conversion taxonomy.")
class EventDefinition:
    name: str
    phase: Phase | None
    value: float
    purpose: Purpose
    allowed_properties: list[str]
    description: str

    @classmethod
    def of(cls, definition: DomainDefinition) -> "EventDefinition":
        return cls(
            name=definition.name,
            phase=definition.phase,
            value=definition.value,
            purpose=definition.purpose,
            allowed_properties=sorted(definition.allowed_properties),
            description=definition.description,
        )


@strawberry.input(description="A workspace's own definition of an event name (replaces the default).")
class EventDefinitionInput:
    name: str
    phase: Phase | None
    value: float
    purpose: Purpose
    allowed_properties: list[str]
    description: str = ""

    def to_domain(self) -> DomainDefinition:
        return DomainDefinition(
            name=self.name,
            phase=self.phase,
            value=self.value,
            purpose=self.purpose,
            allowed_properties=frozenset(self.allowed_properties[:200]),
            description=self.description[:500],
            value_by=None,
        )


@strawberry.type(description="An event name seen in traffic but not in the taxonomy (stored with value 0).")
class UnplannedEvent:
    name: str
    count: int
    last_seen: datetime
