from pathlib import Path

from server.graphql.schema import sdl

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql is stale: run `granular export-schema --output schema.graphql`"


def test_every_root_field_declares_the_roles_it_admits() -> None:
    from server.graphql.schema import build_schema

    schema = build_schema(production=False)
    for root in ("Query", "Mutation", "Subscription"):
        for field in schema.get_type_by_name(root).fields:  # type: ignore[union-attr]
            directives = [type(d).__name__ for d in field.directives]
            assert "Requires" in directives, f"{root}.{field.python_name} has no @requires"
