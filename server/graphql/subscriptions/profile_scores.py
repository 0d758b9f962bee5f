from collections.abc import AsyncGenerator

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.enums import Phase
from server.graphql.types.profile import Affinity
from server.services.profiles import Scores


@strawberry.type(description="A profile's scores at one moment; all null without personalization consent.")
class ProfileScores:
    profile_id: strawberry.ID
    phase: Phase | None
    engagement_score: float | None
    intent_score: float | None
    affinities: list[Affinity]

    @classmethod
    def of(cls, profile_id: str, scores: Scores | None) -> "ProfileScores":
        return cls(
            profile_id=strawberry.ID(profile_id),
            phase=scores.phase if scores else None,
            engagement_score=scores.engagement if scores else None,
            intent_score=scores.intent if scores else None,
            affinities=[Affinity(key=k, weight=w) for k, w in scores.affinities] if scores else [],
        )


@strawberry.type
class ProfileScoresSubscription:
    @strawberry.subscription(
        description="The profile's scores now, then pushed whenever they change (graphql-transport-ws).",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def profile_scores(
        self, info: Info, profile_id: strawberry.ID
    ) -> AsyncGenerator[ProfileScores, None]:
        async for scores in info.context.services.profiles.watch(info.context.principal, str(profile_id)):
            yield ProfileScores.of(str(profile_id), scores)
