from datetime import datetime
from typing import TypeAlias

import strawberry

from server.domain.access import CustomerScope as DomainScope
from server.graphql.types.enums import Phase
from server.graphql.types.profile import Affinity, PurposeConsent
from server.graphql.types.workspace import ConsentMode
from server.services.customers import Me as DomainMe

CustomerScope: TypeAlias = DomainScope
strawberry.enum(
    DomainScope,
    name="CustomerScope",
    description="What a customer token may do: READ its scores and consent, change CONSENT, ask for a DSR.",
)


@strawberry.type(description="A token for one customer's browser; send it as `Authorization: Bearer`.")
class CustomerToken:
    token: str
    expires_at: datetime


@strawberry.type(
    description="The customer a customer token speaks for. Scores are null without personalization consent."
)
class Me:
    profile_id: strawberry.ID | None = strawberry.field(description="Null until Granular holds anything.")
    phase: Phase | None
    engagement_score: float | None
    intent_score: float | None
    affinities: list[Affinity]
    next_best_action: str | None = strawberry.field(
        description="The action of the most advanced trigger the open journey has reached, if any."
    )
    consent_mode: ConsentMode = strawberry.field(
        description="What a purpose without a decision means: OPT_IN off, OPT_OUT on until opted out."
    )
    consent: list[PurposeConsent] = strawberry.field(description="The current decision per purpose.")
    consent_history: list[PurposeConsent] = strawberry.field(
        description="Every decision recorded in the consent ledger, oldest first."
    )

    @classmethod
    def of(cls, me: DomainMe) -> "Me":
        scores = me.scores
        return cls(
            profile_id=strawberry.ID(me.profile_id) if me.profile_id else None,
            phase=scores.phase if scores else None,
            engagement_score=scores.engagement if scores else None,
            intent_score=scores.intent if scores else None,
            affinities=[Affinity(key=k, weight=w) for k, w in scores.affinities] if scores else [],
            next_best_action=me.next_best_action,
            consent_mode=me.consent_mode,
            consent=PurposeConsent.rows(me.consent),
            consent_history=[
                PurposeConsent(purpose=e.purpose, granted=e.granted, source=e.source, at=e.at)
                for e in me.history
            ],
        )
