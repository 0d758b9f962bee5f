"""Inputs and results of the write path. Fields mirror Segment's spec in camelCase."""

from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.types.arguments import InputContext

from server.domain.ingest import IngestResult as DomainResult
from server.graphql.types.scalars import JSON


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
    consent: JSON | None = strawberry.field(
        default=None,
        description='{"categoryPreferences": {"analytics": true, ...}} keyed by purpose.',
    )
    library: JSON | None = None
    locale: str | None = None
    timezone: str | None = None
    device: JSON | None = None
    os: JSON | None = None


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
    properties: JSON | None = None
    traits: JSON | None = None
    context: ContextInput | None = None


def _as_sent(cls: type, value: Mapping[str, Any], context: InputContext) -> dict[str, Any]:
    """An EventInput as the dict Segment would have sent. graphql-core has already checked every
    field against the schema and keyed it by its Segment name; building an object per nested input
    (Strawberry's default, ~0.2 ms per event) would only be undone by the write path."""
    message = {k: v for k, v in value.items() if v is not None}
    if isinstance(context_value := message.get("context"), Mapping):
        message["context"] = {
            k: {n: x for n, x in v.items() if x is not None} if k in ("campaign", "page") else v
            for k, v in context_value.items()
            if v is not None
        }
    return message


EventInput.__strawberry_definition__.from_input = _as_sent  # type: ignore[attr-defined]


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
    expired: int = strawberry.field(
        description="Messages already past their kind's retention period on arrival: not stored."
    )
    unplanned: int
    rejected: list[Rejection]

    @classmethod
    def of(cls, result: DomainResult) -> "IngestResult":
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            suppressed=result.suppressed,
            dropped_no_consent=result.dropped_no_consent,
            expired=result.expired,
            unplanned=result.unplanned,
            rejected=[
                Rejection(index=r.index, code=r.code, message=r.message, field=r.field)
                for r in result.rejected
            ],
        )
