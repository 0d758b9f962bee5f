from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from privacy.consent import PurposeState
from privacy.purposes import Purpose as DomainPurpose
from server.domain.paging import Page
from server.domain.profile import Profile as DomainProfile
from server.domain.scoring import Contribution
from server.domain.scoring import ScoreExplanation as DomainExplanation
from server.graphql.context import Info
from server.graphql.types.enums import ConsentSource, Phase, Purpose
from server.graphql.types.ltv import Ltv
from server.graphql.types.scalars import JSON
from server.services.profiles import ProfileView

if TYPE_CHECKING:
    from server.graphql.types.audience import Audience


@strawberry.type(description="Decayed interest in a category or product type.")
class Affinity:
    key: str
    weight: float


@strawberry.type(description="An account or household the customer belongs to (Segment group calls).")
class Group:
    id: strawberry.ID
    traits: JSON = strawberry.field(
        description="The group's traits; personal ones (decrypted, audited) only for COMPLIANCE and ADMIN."
    )


@strawberry.type(description="The current decision for one purpose.")
class PurposeConsent:
    purpose: Purpose
    granted: bool
    source: ConsentSource
    at: datetime

    @classmethod
    def rows(cls, consent: Mapping[DomainPurpose, PurposeState]) -> list["PurposeConsent"]:
        """One row per decided purpose, in the purposes' order."""
        return [
            cls(purpose=p, granted=s.granted, source=s.source, at=s.at) for p, s in sorted(consent.items())
        ]


@strawberry.type(description="One event's part in a score: weight = value · 2^(−age/half-life).")
class ScoreContribution:
    event: str
    at: datetime
    value: float
    decay: float
    weight: float


@strawberry.type(description="Why the scores are what they are: the heaviest contributions to each.")
class ScoreExplanation:
    engagement_score: float
    intent_score: float
    engagement: list[ScoreContribution]
    intent: list[ScoreContribution]

    @classmethod
    def of(cls, explanation: DomainExplanation) -> "ScoreExplanation":
        def rows(items: Iterable[Contribution]) -> list[ScoreContribution]:
            return [
                ScoreContribution(event=c.name, at=c.at, value=c.value, decay=c.decay, weight=c.weight)
                for c in items
            ]

        return cls(
            engagement_score=explanation.engagement_score,
            intent_score=explanation.intent_score,
            engagement=rows(explanation.engagement),
            intent=rows(explanation.intent),
        )


@strawberry.type(
    description="A progressive customer profile. Scores are null without personalization consent."
)
class Profile:
    id: strawberry.ID
    user_id: str | None
    anonymous_ids: list[str]
    phase: Phase | None
    journey_open: bool | None = strawberry.field(
        description="Whether the latest journey is still open (no ACTION yet, a micro-conversion within "
        "30 days); `phase` stays the latest journey's phase either way. Null without personalization consent."
    )
    engagement_score: float | None
    intent_score: float | None
    affinities: list[Affinity]
    consent: list[PurposeConsent]
    first_seen: datetime | None
    last_seen: datetime | None
    source: strawberry.Private[DomainProfile]

    @strawberry.field(
        description="Non-personal traits; personal ones (decrypted, audited) only for COMPLIANCE and ADMIN."
    )
    async def traits(self, info: Info) -> JSON:
        return JSON(await info.context.loaders.traits_by_profile.load(self.source))

    @strawberry.field(description="The accounts or households the customer belongs to.")
    async def groups(self, info: Info) -> list[Group]:
        views = await info.context.loaders.groups_by_profile.load(self.source)
        return [Group(id=strawberry.ID(v.id), traits=JSON(v.traits)) for v in views]

    @strawberry.field(
        description="The events and weights behind the scores; null without personalization consent."
    )
    async def score_explanation(self, info: Info) -> ScoreExplanation | None:
        found = await info.context.loaders.score_explanation_by_profile.load(self.source)
        return ScoreExplanation.of(found) if found else None

    @strawberry.field(
        description="P(the open journey ends in a conversion), from the workspace's fitted model; "
        "null until a model exists, without an open journey, or without personalization consent."
    )
    async def conversion_probability(self, info: Info) -> float | None:
        if self.engagement_score is None:  # no personalization consent: no scores of any kind
            return None
        return await info.context.loaders.conversion_probability_by_profile_id.load(self.source.id)

    @strawberry.field(description="The audiences the profile is a member of now.")
    async def audiences(
        self, info: Info
    ) -> list[Annotated["Audience", strawberry.lazy("server.graphql.types.audience")]]:
        from server.graphql.types.audience import Audience

        return [
            Audience.of(a) for a in await info.context.loaders.audiences_by_profile_id.load(self.source.id)
        ]

    @strawberry.field(description="Lifetime value: history and predictions (see Query.ltv).")
    async def ltv(self, info: Info, as_of: datetime | None = None) -> Ltv:
        return Ltv.of(await info.context.loaders.ltv_by_profile_id.load((self.source.id, as_of)))

    @classmethod
    def of(cls, view: ProfileView) -> "Profile":
        profile, scores = view.profile, view.scores
        return cls(
            id=strawberry.ID(profile.id),
            user_id=profile.user_id,
            anonymous_ids=list(profile.anonymous_ids),
            phase=scores.phase if scores else None,
            journey_open=scores.journey_open if scores else None,
            engagement_score=scores.engagement if scores else None,
            intent_score=scores.intent if scores else None,
            affinities=[Affinity(key=k, weight=w) for k, w in scores.affinities] if scores else [],
            consent=PurposeConsent.rows(view.consent),
            first_seen=profile.scores.first_seen,
            last_seen=profile.scores.last_seen,
            source=profile,
        )


@strawberry.type(description="A customer's consent after a change.")
class ConsentState:
    profile_id: strawberry.ID
    purposes: list[PurposeConsent]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> "PageInfo":
        return cls(has_next_page=page.has_next, end_cursor=page.end_cursor)


@strawberry.type
class ProfileEdge:
    cursor: str
    node: Profile


@strawberry.type
class ProfileConnection:
    edges: list[ProfileEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[ProfileView]) -> "ProfileConnection":
        return cls(
            edges=[ProfileEdge(cursor=cursor, node=Profile.of(view)) for cursor, view in page],
            page_info=PageInfo.of(page),
        )


@strawberry.input(
    description="Narrow a profile listing. `email`/`phone` match by blind index (COMPLIANCE, ADMIN)."
)
class ProfileFilter:
    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    phone: str | None = None
    seen_after: datetime | None = None
    audience: strawberry.ID | None = strawberry.field(
        default=None, description="Members of this audience (not combined with the other criteria)."
    )

    @property
    def narrowed(self) -> bool:
        """Whether a criterion other than `audience` is given."""
        return any(
            v is not None for v in (self.user_id, self.anonymous_id, self.email, self.phone, self.seen_after)
        )
