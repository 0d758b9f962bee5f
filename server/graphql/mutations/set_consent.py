import strawberry

from privacy.purposes import ConsentSource
from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.enums import Purpose as PurposeEnum
from server.graphql.types.profile import ConsentState, PurposeConsent


@strawberry.input(
    description="Grant or withdraw one purpose for a customer: withdrawing is as easy as granting."
)
class ConsentInput:
    user_id: str | None = None
    anonymous_id: str | None = None
    purpose: PurposeEnum
    granted: bool
    policy_version: str | None = None


@strawberry.type
class SetConsent:
    @strawberry.mutation(
        description="Record a consent decision in the ledger.", extensions=allow(Role.INGEST)
    )
    async def set_consent(self, info: Info, input: ConsentInput) -> ConsentState:
        profile = await info.context.services.ingest.set_consent(
            info.context.principal,
            user_id=input.user_id,
            anonymous_id=input.anonymous_id,
            decisions=[(input.purpose, input.granted, ConsentSource.API)],
            policy_version=input.policy_version[:64] if input.policy_version else None,
        )
        return ConsentState(
            profile_id=strawberry.ID(profile.id),
            purposes=PurposeConsent.rows(profile.consent),
        )
