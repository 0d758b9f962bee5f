"""A schemathesis GraphQL fuzz run over schema.graphql with each role's key and a customer token, bounded in examples:
no 5xx, no uncoded or unmasked error, no personal data to roles that may not see it."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from server.settings import Settings
from tests.conftest import ADMIN_KEY, assert_no_pii, served

ROOT = Path(__file__).resolve().parents[1]
# JSON inputs (an audience rule's trait value) get scalars of every kind a caller may send.
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.text(max_size=20).map(nodes.String),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
        st.just(nodes.Null),
    ),
)
SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")
EMAIL = "fuzz.subject@example.com"
ROLES = ("INGEST", "PERSONALIZATION", "ANALYST", "COMPLIANCE", "ADMIN")


@pytest.fixture(scope="module")
def target(mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    config = Settings(
        mongodb_uri=mongodb_uri,
        database="fuzz_" + uuid.uuid4().hex[:12],
        data_dir=tmp_path_factory.mktemp("fuzz"),
        bootstrap_admin_key=ADMIN_KEY,
        rate_limit_per_minute=10**9,
    )
    with served(config) as address:
        yield _prepare(f"http://{address}")


def _prepare(url: str) -> dict[str, Any]:
    """A profile with an e-mail to leak, a key of every role, and a token of another customer (so
    that a fuzzed requestMyErasure cannot take away the profile the leak checks look for)."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    seed = f'mutation {{ identify(input: {{userId: "fuzz-user", traits: {{email: "{EMAIL}"}}}}) {{ id }} }}'
    httpx.post(url + "/graphql", json={"query": seed}, headers=admin).raise_for_status()
    keys = {"ADMIN": ADMIN_KEY}
    for role in ROLES[:-1]:
        created = httpx.post(
            url + "/graphql",
            json={"query": f'mutation {{ createApiKey(role: {role}, name: "fuzz") {{ secret }} }}'},
            headers=admin,
        )
        keys[role] = created.json()["data"]["createApiKey"]["secret"]
    minted = httpx.post(
        url + "/graphql",
        json={
            "query": 'mutation { createCustomerToken(userId: "fuzz-customer", ttlMinutes: 1440) { token } }'
        },
        headers=admin,
    )
    keys["CUSTOMER"] = minted.json()["data"]["createCustomerToken"]["token"]
    return {"url": url, "keys": keys}


@SCHEMA.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_operations_fail_only_with_codes_and_leak_nothing(case: Any, target: dict[str, Any]) -> None:
    for role, key in target["keys"].items():
        response = case.call(base_url=target["url"] + "/graphql", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code < 500 or response.status_code == 503, (role, response.text[:300])
        body = response.json()
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            assert code, (role, error)
            if code == "INTERNAL":
                assert error["message"] == "Unexpected error.", error
        if role not in ("COMPLIANCE", "ADMIN"):
            assert EMAIL not in response.text, role
            assert_no_pii(response.text, f"a response to {role}")
