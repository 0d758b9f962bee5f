"""Inputs and results of the write path. Fields mirror Segment's spec in camelCase."""

from typing import Any

import strawberry

from server.graphql.types.scalars import JSON
from server.services.ingest import IngestResult as DomainResult


@strawberry.input(description="Segment's context.campaign (utm_* parameters).")
class CampaignInput:
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    term: str | None = None
    content: str | None = None


@strawberry.input(description="Segment's context.page.")
class PageInput:
    url: str | None = None
    referrer: str | None = None
    path: str | None = None
    title: str | None = None


@strawberry.input(description="Segment's context: where an event came from and under what consent.")
class ContextInput:
    channel: str | None = None
    campaign: CampaignInput | None = None
    page: PageInput | None = None
    ip: str | None = None
    user_agent: str | None = None
    gpc: bool | None = None
    consent: JSON | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description='{"categoryPreferences": {"analytics": true, ...}} keyed by purpose.',
    )
    library: JSON | None = None  # type: ignore[valid-type]
    locale: str | None = None
    timezone: str | None = None
    device: JSON | None = None  # type: ignore[valid-type]
    os: JSON | None = None  # type: ignore[valid-type]


_CONTEXT_NAMES = {"user_agent": "userAgent"}


def _plain(value: Any) -> Any:
    if hasattr(value, "__strawberry_definition__"):
        return {
            _CONTEXT_NAMES.get(name, name): _plain(item)
            for name, item in vars(value).items()
            if item is not None
        }
    return value


@strawberry.input(description="One Segment-style message (track, page, screen, identify or alias).")
class EventInput:
    type: str = "track"
    event: str | None = None
    name: str | None = None
    message_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None
    timestamp: str | None = strawberry.field(default=None, description="ISO-8601 with a time zone.")
    sent_at: str | None = strawberry.field(
        default=None, description="When the client sent the batch (skew correction)."
    )
    properties: JSON | None = None  # type: ignore[valid-type]
    traits: JSON | None = None  # type: ignore[valid-type]
    context: ContextInput | None = None

    def raw(self) -> dict[str, Any]:
        """The message as Segment would have sent it, for the one shared validation pass."""
        names = {
            "message_id": "messageId",
            "user_id": "userId",
            "anonymous_id": "anonymousId",
            "previous_id": "previousId",
            "sent_at": "sentAt",
        }
        return {names.get(k, k): _plain(v) for k, v in vars(self).items() if v is not None}


@strawberry.type(description="A message that was not stored, with the field and rule it broke.")
class Rejection:
    index: int
    code: str
    message: str
    field: str | None


@strawberry.type(description="What happened to each message of a batch.")
class IngestResult:
    accepted: int
    duplicates: int
    suppressed: int
    dropped_no_consent: int
    unplanned: int
    rejected: list[Rejection]

    @classmethod
    def of(cls, result: DomainResult) -> "IngestResult":
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            suppressed=result.suppressed,
            dropped_no_consent=result.dropped_no_consent,
            unplanned=result.unplanned,
            rejected=[
                Rejection(index=r.index, code=r.code, message=r.message, field=r.field)
                for r in result.rejected
            ],
        )
