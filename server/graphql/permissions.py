"""Role checks declared on fields and printed into schema.graphql as @requires(roles: [...])."""

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.types.enums import Role as RoleEnum


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requires",
    description="Roles whose keys may use this field (ADMIN may use every field).",
)
class Requires:
    roles: list[RoleEnum]  # type: ignore[valid-type]


class RoleAllowed(BasePermission):
    message = "This key's role may not use this field."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry's own attribute

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles
        self._schema_directive = Requires(roles=sorted(roles, key=list(Role).index))

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.may(self.roles):
            return True
        await info.context.services.audit.denied(principal, info.field_name)
        return False


def allow(*roles: Role) -> list[FieldExtension]:
    """Field extensions admitting keys of `roles` (and ADMIN)."""
    return [PermissionExtension([RoleAllowed(frozenset((*roles, Role.ADMIN)))])]
