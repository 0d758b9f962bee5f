"""Role × operation, over every root field of the schema, generated from the schema itself: a new
field cannot escape it. Each field's @requires directive is the expectation."""

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)

from server.domain.access import KEY_ROLES, Role
from server.graphql.schema import build_schema
from tests.conftest import Api

SCHEMA = build_schema(production=False)
SCALARS = {
    "ID": '"x"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "true",
    "DateTime": '"2026-01-01T00:00:00+00:00"',
    "JSON": "{}",
}


def _literal(kind: GraphQLInputType) -> str:
    if isinstance(kind, GraphQLNonNull):
        return _literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{_literal(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = [
            f"{name}: {_literal(field.type)}"
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        ]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(kind, GraphQLScalarType)
    return SCALARS[kind.name]


def _document(operation: str, name: str, field: GraphQLField) -> str:
    args = [
        f"{arg_name}: {_literal(arg.type)}"
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    ]
    call = name + (f"({', '.join(args)})" if args else "")
    selection = " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    return f"{operation} {{ {call}{selection} }}"


def _root_fields() -> list[tuple[str, str, GraphQLField, frozenset[Role]]]:
    rows = []
    graphql_schema = SCHEMA._schema
    for operation, root in (("query", graphql_schema.query_type), ("mutation", graphql_schema.mutation_type)):
        assert root is not None
        definition = SCHEMA.get_type_by_name(root.name)
        for strawberry_field in definition.fields:  # type: ignore[union-attr]
            requires = next(d for d in strawberry_field.directives if type(d).__name__ == "Requires")
            name = SCHEMA.config.name_converter.get_graphql_name(strawberry_field)
            rows.append((operation, name, root.fields[name], frozenset(Role(r) for r in requires.roles)))
    return rows


ROOT_FIELDS = _root_fields()


async def _counts(api: Api) -> dict[str, int]:
    return {
        name: await api.db[name].count_documents({})
        for name in await api.db.list_collection_names()
        if name != "audit_log"
    }


def test_the_matrix_covers_every_root_field() -> None:
    assert len(ROOT_FIELDS) == len(SCHEMA._schema.query_type.fields) + len(
        SCHEMA._schema.mutation_type.fields
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("operation", "name", "field", "allowed"), ROOT_FIELDS, ids=[f"{r[0]}.{r[1]}" for r in ROOT_FIELDS]
)
async def test_each_role_is_allowed_or_refused_as_the_field_declares(
    api: Api, operation: str, name: str, field: GraphQLField, allowed: frozenset[Role]
) -> None:
    document = _document(operation, name, field)
    # The customer goes first: ADMIN's rotateCustomerTokenKey would otherwise void its token.
    keys = {Role.CUSTOMER: await api.customer_token("matrix-customer")}
    keys.update({role: await api.key(role.value) for role in KEY_ROLES})
    for role, key in keys.items():
        before = await _counts(api)
        denials_before = await api.db["audit_log"].count_documents({"action": "access.denied"})
        body: dict[str, Any] = await api.gql(document, key=key)
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        if role in allowed:
            assert "FORBIDDEN" not in codes, (role, document, body)
        else:
            assert codes == ["FORBIDDEN"], (role, document, body)
            assert await _counts(api) == before, (role, document)
            assert (
                await api.db["audit_log"].count_documents({"action": "access.denied"}) == denials_before + 1
            )
