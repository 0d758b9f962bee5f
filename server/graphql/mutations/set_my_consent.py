import strawberry

from server.domain.access import CustomerScope
from server.graphql.context import Info
from server.graphql.permissions import customer_only
from server.graphql.types.customer import Me
from server.graphql.types.enums import Purpose as PurposeEnum


@strawberry.type
class SetMyConsent:
    @strawberry.mutation(
        description="The customer switches one purpose on or off (recorded with source CUSTOMER).",
        extensions=customer_only(CustomerScope.CONSENT),
    )
    async def set_my_consent(self, info: Info, purpose: PurposeEnum, granted: bool) -> Me:
        customers = info.context.services.customers
        return Me.of(await customers.set_consent(info.context.principal, purpose, granted))
