from datetime import datetime, timedelta

import strawberry

from server.domain.triggers import Delivery
from server.domain.triggers import Trigger as DomainTrigger
from server.graphql.types.enums import Phase
from server.graphql.types.scalars import JSON


@strawberry.type(
    description="A next-best-action rule: reached `reachedPhase`, no ACTION within `withinMinutes`."
)
class Trigger:
    id: strawberry.ID
    name: str
    action: str
    reached_phase: Phase
    within_minutes: int
    url: str
    since: datetime | None = strawberry.field(
        description="Only journeys active at or after this moment are considered."
    )

    @classmethod
    def of(cls, t: DomainTrigger) -> "Trigger":
        return cls(
            id=strawberry.ID(t.id),
            name=t.name,
            action=t.action,
            reached_phase=t.reached,
            within_minutes=int(t.within / timedelta(minutes=1)),
            url=t.url,
            since=t.since,
        )


@strawberry.type(
    description="A new trigger: `secret` signs its webhooks (X-Granular-Signature) and is shown once."
)
class NewTrigger:
    trigger: Trigger
    secret: str


@strawberry.input
class TriggerInput:
    name: str
    action: str
    reached_phase: Phase
    within_minutes: int
    url: str
    since: datetime | None = strawberry.field(
        default=None,
        description="Consider journeys active from this moment on (default: now, so a new rule never "
        "fires for journeys that went quiet before it existed).",
    )


@strawberry.input(description="The fields of a trigger to change; those left out stay as they are.")
class TriggerUpdateInput:
    name: str | None = None
    action: str | None = None
    reached_phase: Phase | None = None
    within_minutes: int | None = None
    url: str | None = None
    since: datetime | None = None


@strawberry.type(description="One webhook owed for one journey, and how its attempts went.")
class WebhookDelivery:
    id: strawberry.ID
    trigger_id: strawberry.ID
    profile_id: strawberry.ID
    status: str
    attempts: int
    last_status: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    body: JSON

    @classmethod
    def of(cls, delivery: Delivery) -> "WebhookDelivery":
        return cls(
            id=strawberry.ID(delivery.id),
            trigger_id=strawberry.ID(delivery.trigger_id),
            profile_id=strawberry.ID(delivery.profile_id),
            status=delivery.status,
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            body=JSON(delivery.body),
        )
