from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from server.domain.audience import LtvMeasure as DomainLtvMeasure
from server.domain.audience import StoredAudience, describe, to_data
from server.graphql.context import Info
from server.graphql.types.enums import Phase, Purpose
from server.graphql.types.profile import ProfileConnection
from server.graphql.types.scalars import JSON

LtvMeasure: TypeAlias = DomainLtvMeasure
strawberry.enum(
    DomainLtvMeasure,
    name="LtvMeasure",
    description="An LTV figure: historical revenue or orders, P(alive), or 12-month CLV "
    "(1 % monthly discount).",
)

# The `audience` argument of every report restricted to one (attribution, its comparison, topPaths,
# funnel, ltvDrivers, ltvDistribution).
ReportAudience: TypeAlias = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Only this audience's members as of the report's end (`to`); its current members "
        "when `to` is absent or not in the past (joined inside the database)."
    ),
]


def report_audience_id(audience: strawberry.ID | None) -> str | None:
    """A report's `audience` argument as the services take it."""
    return str(audience) if audience is not None else None


@strawberry.enum(description="The marketing purpose an audience is for: members must have granted it too.")
class AudiencePurpose(Enum):
    MARKETING_EMAIL = "MARKETING_EMAIL"
    MARKETING_SMS = "MARKETING_SMS"
    ADVERTISING = "ADVERTISING"


@strawberry.input(description="A closed range: `min` ≤ value ≤ `max`; give one bound or both.")
class RangeInput:
    min: float | None = None
    max: float | None = None


@strawberry.input(description="An affinity key (category or product type) with at least this decayed weight.")
class AffinityConditionInput:
    key: str
    min_weight: float


@strawberry.input(description="An LTV figure within a range.")
class LtvConditionInput:
    measure: LtvMeasure
    min: float | None = None
    max: float | None = None


@strawberry.input(description="Did event `event` at least `atLeast` times within the last `withinDays` days.")
class DidEventInput:
    event: str
    within_days: int
    at_least: int = 1


@strawberry.input(description="A non-personal trait equal to a value (personal traits are refused).")
class TraitConditionInput:
    name: str
    value: JSON


@strawberry.input(
    description="One condition per rule object; combine with `all`, `any` and `not` (at most 6 deep, "
    "50 conditions). Scores are read as of evaluation time, decayed."
)
class AudienceRuleInput:
    all: list["AudienceRuleInput"] | None = None
    any: list["AudienceRuleInput"] | None = None
    not_: "AudienceRuleInput | None" = strawberry.field(default=None, name="not")
    phase: list[Phase] | None = strawberry.field(
        default=None, description="The latest journey's phase is one of these."
    )
    engagement: RangeInput | None = None
    intent: RangeInput | None = None
    conversion_probability: RangeInput | None = None
    affinity: AffinityConditionInput | None = None
    ltv: LtvConditionInput | None = None
    consent: Purpose | None = strawberry.field(default=None, description="The purpose is granted.")
    last_seen_within_days: int | None = None
    did_event: DidEventInput | None = None
    trait: TraitConditionInput | None = None

    def data(self) -> dict[str, Any]:
        """The rule as plain data (the shape `server.domain.audience.parse` checks)."""
        found: dict[str, Any] = {}
        if self.all is not None:
            found["all"] = [r.data() for r in self.all]
        if self.any is not None:
            found["any"] = [r.data() for r in self.any]
        if self.not_ is not None:
            found["not"] = self.not_.data()
        if self.phase is not None:
            found["phase"] = [p.name for p in self.phase]
        for key, bounds in (
            ("engagement", self.engagement),
            ("intent", self.intent),
            ("conversionProbability", self.conversion_probability),
        ):
            if bounds is not None:
                found[key] = {"min": bounds.min, "max": bounds.max}
        if self.affinity is not None:
            found["affinity"] = {"key": self.affinity.key, "minWeight": self.affinity.min_weight}
        if self.ltv is not None:
            found["ltv"] = {"measure": self.ltv.measure.value, "min": self.ltv.min, "max": self.ltv.max}
        if self.consent is not None:
            found["consent"] = self.consent.name
        if self.last_seen_within_days is not None:
            found["lastSeenWithinDays"] = self.last_seen_within_days
        if self.did_event is not None:
            found["didEvent"] = {
                "event": self.did_event.event,
                "atLeast": self.did_event.at_least,
                "withinDays": self.did_event.within_days,
            }
        if self.trait is not None:
            found["trait"] = {"name": self.trait.name, "value": self.trait.value}
        return found


@strawberry.input(description="An audience: a name, a rule and optionally the marketing purpose it is for.")
class AudienceInput:
    name: str
    rule: AudienceRuleInput
    purpose: AudiencePurpose | None = None
    webhook_url: str | None = strawberry.field(
        default=None,
        description="Told of each entry and exit (ids only), signed and retried like trigger webhooks.",
    )


@strawberry.type(description="A live, consent-aware segment of profiles.")
class Audience:
    id: strawberry.ID
    name: str
    purpose: AudiencePurpose | None
    rule: JSON = strawberry.field(description="The rule, in the shape of AudienceRuleInput.")
    definition: str = strawberry.field(description="The rule in plain words.")
    webhook_url: str | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="How many profiles are members now.")
    async def size(self, info: Info) -> int:
        return await info.context.loaders.size_by_audience_id.load(str(self.id))

    @strawberry.field(description="The members in profile-id order, Relay-style (1 to 500 per page).")
    async def members(self, info: Info, first: int = 50, after: str | None = None) -> ProfileConnection:
        page = await info.context.services.audiences.members(
            info.context.principal, str(self.id), first=first, after=after
        )
        return ProfileConnection.of(page)

    @classmethod
    def of(cls, stored: StoredAudience) -> "Audience":
        audience = stored.audience
        return cls(
            id=strawberry.ID(audience.id),
            name=audience.name,
            purpose=AudiencePurpose[audience.purpose.name] if audience.purpose else None,
            rule=JSON(to_data(audience.rule)),
            definition=describe(audience.rule),
            webhook_url=audience.webhook_url,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )


@strawberry.type(
    description="A new audience: `webhookSecret` signs its webhooks (X-Granular-Signature) and is shown "
    "once; null without a webhook."
)
class NewAudience:
    audience: Audience
    webhook_secret: str | None


@strawberry.type(description="An audience's size at the end of one UTC day.")
class AudienceSizePoint:
    day: datetime
    size: int
