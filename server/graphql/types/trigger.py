from datetime import datetime, timedelta
from typing import Any

import strawberry

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
    def of(cls, d: dict[str, Any]) -> "WebhookDelivery":
        return cls(
            id=strawberry.ID(d["_id"]),
            trigger_id=strawberry.ID(d["trigger_id"]),
            profile_id=strawberry.ID(d["profile_id"]),
            status=d["status"],
            attempts=d["attempts"],
            last_status=d.get("last_status"),
            created_at=d["created_at"],
            next_attempt_at=d.get("next_attempt_at"),
            body=d["body"],
        )
