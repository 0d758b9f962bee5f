import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.profile import Profile
from server.graphql.types.scalars import JSON


@strawberry.input(description="Tie ids together and add traits (personal ones are encrypted at rest).")
class IdentifyInput:
    user_id: str | None = None
    anonymous_id: str | None = None
    traits: JSON | None = None
    timestamp: str | None = None
    message_id: str | None = None


@strawberry.type
class Identify:
    @strawberry.mutation(
        description="Identify a customer; returns the profile.", extensions=allow(Role.INGEST)
    )
    async def identify(self, info: Info, input: IdentifyInput) -> Profile:
        services, principal = info.context.services, info.context.principal
        raw: dict[str, object] = {
            "type": "identify",
            "userId": input.user_id,
            "anonymousId": input.anonymous_id,
            "traits": input.traits or {},
            "timestamp": input.timestamp,
            "messageId": input.message_id,
        }
        gpc = info.context.request.headers.get("sec-gpc") == "1"
        profile = await services.ingest.identify(
            principal, {k: v for k, v in raw.items() if v is not None}, gpc=gpc
        )
        return Profile.of(await services.profiles.view(principal, profile))
