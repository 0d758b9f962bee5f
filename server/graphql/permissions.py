"""Role checks declared on fields and printed into schema.graphql as @requires(roles: [...])."""

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from server.domain.access import CustomerScope, Role
from server.graphql.context import Info
from server.graphql.types.enums import Role as RoleEnum


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requires",
    description="Who may use this field: API keys of these roles, or CUSTOMER for a customer token.",
)
class Requires:
    roles: list[RoleEnum]


def _who_may(roles: list[Role], scope: CustomerScope | None) -> str:
    """The refusal's message: who may use the field instead (never who the caller is)."""
    if scope is not None:
        return f"Only a customer token with the {scope.name} scope may use this field."
    names = [role.value for role in roles]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"Only {listed} keys may use this field."


class RoleAllowed(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry's own attribute

    def __init__(self, roles: frozenset[Role], scope: CustomerScope | None = None) -> None:
        self.roles = roles
        self.scope = scope
        ordered = sorted(roles, key=list(Role).index)
        self.message = _who_may(ordered, scope)
        self._requires = Requires(roles=ordered)

    @property
    def schema_directive(self) -> object:
        """@requires(roles: [...]) with this field's roles, printed into the SDL."""
        return self._requires

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        customer = principal.customer
        in_scope = self.scope is None or (customer is not None and self.scope in customer.scopes)
        if principal.may(self.roles) and in_scope:
            return True
        await info.context.services.audit.denied(principal, info.field_name)
        return False


def allow(*roles: Role) -> list[FieldExtension]:
    """Field extensions admitting keys of `roles` (and ADMIN)."""
    return [PermissionExtension([RoleAllowed(frozenset((*roles, Role.ADMIN)))])]


def customer_only(scope: CustomerScope) -> list[FieldExtension]:
    """Field extensions admitting customer tokens minted with `scope`, and nothing else: these fields
    answer about "me", and no API key, not even ADMIN's, has a "me"."""
    return [PermissionExtension([RoleAllowed(frozenset({Role.CUSTOMER}), scope)])]
