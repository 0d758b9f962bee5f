from typing import Any

import pytest
import strawberry

from server.graphql.errors import coded
from server.graphql.schema import limits
from server.settings import Settings
from tests.conftest import ADMIN_KEY, Api, running


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> "Node":
        raise AssertionError("a resolver ran")


@strawberry.type
class Root:
    @strawberry.field
    def node(self) -> Node:
        raise AssertionError("a resolver ran")


def test_a_query_deeper_than_ten_is_refused_before_any_resolver() -> None:
    # Granular's own schema is shallower than the limit, so the limits are tried on a recursive one.
    schema = strawberry.Schema(query=Root, extensions=limits())
    deep = "{ node " + "{ child " * 10 + "{ __typename }" + " }" * 11
    result = schema.execute_sync(deep)
    assert result.errors is not None
    assert coded(result.errors[0], hide_suggestions=False).extensions == {"code": "QUERY_TOO_DEEP"}


async def test_more_than_fifteen_aliases_are_refused(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: taxonomy {{ name }}" for i in range(16)) + " }"
    assert _code(await api.gql(query)) == "TOO_MANY_ALIASES"


async def test_aliases_are_counted_through_fragments(api: Api) -> None:
    fragment = "fragment F on Query { " + " ".join(f"a{i}: taxonomy {{ name }}" for i in range(8)) + " }"
    query = (
        "{ ...F ...G } "
        + fragment
        + " fragment G on Query { "
        + " ".join(f"b{i}: taxonomy {{ name }}" for i in range(8))
        + " }"
    )
    assert _code(await api.gql(query)) == "TOO_MANY_ALIASES"


async def test_more_than_two_thousand_tokens_are_refused(api: Api) -> None:
    query = "{ " + " ".join("taxonomy { name }" for _ in range(600)) + " }"
    assert _code(await api.gql(query)) == "TOO_MANY_TOKENS"


async def test_cyclic_fragments_are_refused(api: Api) -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    assert _code(await api.gql(query)) == "CYCLIC_FRAGMENT"


async def test_page_sizes_over_500_are_refused_not_clamped(api: Api) -> None:
    await api.gql(
        'mutation { setConsent(input: {userId: "u", purpose: ANALYTICS, granted: true}) { profileId } }'
    )
    body = await api.gql("{ profiles(first: 100000) { edges { cursor } pageInfo { hasNextPage } } }")
    assert (body["data"], _code(body)) == (None, "PAGE_TOO_LARGE")


async def test_a_key_over_its_rate_is_told_to_retry_later(settings: Settings) -> None:
    async with running(settings.model_copy(update={"rate_limit_per_minute": 6})) as api:
        statuses = []
        for _ in range(3):
            response = await api.http.post(
                "/graphql",
                json={"query": "{ taxonomy { name } }"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            statuses.append(response.status_code)
        assert statuses == [200, 429, 429]
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("query", ["{ taxonomy { name } }", "{ apiKeys { id } }"])
async def test_rate_limits_are_counted_per_operation(settings: Settings, query: str) -> None:
    async with running(settings.model_copy(update={"rate_limit_per_minute": 6})) as api:
        first = await api.gql("{ unplannedEvents { name } }")
        other = await api.gql(query)
        assert "errors" not in first
        assert "errors" not in other
