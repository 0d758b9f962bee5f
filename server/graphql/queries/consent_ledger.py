import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.consent_ledger import LedgerVerification


@strawberry.type
class ConsentLedgerQueries:
    @strawberry.field(
        description="Checks every hash chain of a profile's consent ledger (its own and those of profiles "
        "merged into it) from the oldest kept entry: intact, or the first broken entry and why. Null for "
        "an unknown profile.",
        extensions=allow(Role.COMPLIANCE),
    )
    async def verify_consent_ledger(self, info: Info, profile_id: strawberry.ID) -> LedgerVerification | None:
        services, principal = info.context.services, info.context.principal
        profile = await services.profiles.find(principal, profile_id=str(profile_id))
        if profile is None:
            return None
        ids = await services.profiles.lineage(principal, profile.id)
        return LedgerVerification.of(await services.consent.verify(principal, ids))
