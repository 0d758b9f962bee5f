import strawberry

from server.domain.access import CustomerScope as DomainScope
from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.customer import CustomerScope, CustomerToken


@strawberry.type
class CreateCustomerToken:
    @strawberry.mutation(
        description=(
            "Mint a short-lived token for one customer (exactly one of userId and anonymousId), for their "
            "browser: it answers `me` and the customer's own consent and DSR mutations, nothing else."
        ),
        extensions=allow(Role.PERSONALIZATION),
    )
    async def create_customer_token(
        self,
        info: Info,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        ttl_minutes: int = 60,
        scopes: list[CustomerScope] | None = None,
    ) -> CustomerToken:
        token, expires_at = await info.context.services.customer_tokens.mint(
            info.context.principal,
            user_id=user_id,
            anonymous_id=anonymous_id,
            ttl_minutes=ttl_minutes,
            scopes=frozenset(scopes) if scopes is not None else frozenset(DomainScope),
        )
        return CustomerToken(token=token, expires_at=expires_at)
