from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from server.domain.access import Role
from server.domain.audience import MembershipChange
from server.graphql.context import Info
from server.graphql.permissions import allow


@strawberry.type(description="A profile entering or leaving an audience (ids only: no personal data).")
class AudienceChange:
    audience_id: strawberry.ID
    profile_id: strawberry.ID
    entered: bool = strawberry.field(description="True on entry, false on exit.")
    at: datetime

    @classmethod
    def of(cls, change: MembershipChange) -> "AudienceChange":
        return cls(
            audience_id=strawberry.ID(change.audience_id),
            profile_id=strawberry.ID(change.profile_id),
            entered=change.entered,
            at=change.at,
        )


@strawberry.type
class AudienceChangesSubscription:
    @strawberry.subscription(
        description="Each entry into and exit from the audience from now on (graphql-transport-ws). A "
        "reader that falls behind gets only each profile's latest change; one more than 10,000 profiles "
        "behind is ended with TOO_FAR_BEHIND (read `members` and subscribe again).",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST),
    )
    async def audience_changes(
        self, info: Info, audience_id: strawberry.ID
    ) -> AsyncGenerator[AudienceChange, None]:
        async for change in info.context.services.audiences.watch(info.context.principal, str(audience_id)):
            yield AudienceChange.of(change)
