"""Customer tokens: minted by a brand's backend, used by one shopper's browser, refused when expired,
altered, from another workspace or signed before a rotation."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from privacy.crypto import customer_token_secret
from tests.conftest import Api

ME = "{ me { profileId consent { purpose granted source } } }"
MINT = """mutation($userId: String, $anonymousId: String, $ttl: Int) {
  createCustomerToken(userId: $userId, anonymousId: $anonymousId, ttlMinutes: $ttl) { token expiresAt }
}"""


async def _ask(
    api: Api, token: str, query: str = ME, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["errors"][0]["extensions"]["code"])


def _forged(api: Api, claims: dict[str, Any], *, workspace_id: str = "default", kid: str = "0") -> str:
    secret = customer_token_secret(api.app.state.services.keyring, workspace_id, 0)
    now = datetime.now(UTC)
    full = {
        "iss": "granular",
        "aud": "default",
        "sub": "user:customer-1",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "forged",
        "scope": "me:read",
        **claims,
    }
    return jwt.encode(full, secret, algorithm="HS256", headers={"kid": kid})


async def test_a_personalization_key_mints_a_token_that_expires_within_its_ttl(api: Api) -> None:
    key = await api.key("PERSONALIZATION")
    before = datetime.now(UTC)
    body = await api.gql(MINT, {"userId": "customer-1", "ttl": 15}, key=key)
    minted = body["data"]["createCustomerToken"]
    expires = datetime.fromisoformat(minted["expiresAt"])
    assert before + timedelta(minutes=14) < expires <= before + timedelta(minutes=15, seconds=1)
    claims = jwt.decode(minted["token"], options={"verify_signature": False})
    assert (claims["aud"], claims["sub"]) == ("default", "user:customer-1")


async def test_the_minted_token_answers_me(api: Api) -> None:
    token = await api.customer_token("customer-1")
    response = await _ask(api, token)
    assert response.status_code == 200
    assert response.json()["data"]["me"] == {"profileId": None, "consent": []}


async def test_minting_is_refused_to_roles_that_do_not_serve_pages(api: Api) -> None:
    for role in ("INGEST", "ANALYST", "COMPLIANCE"):
        body = await api.gql(MINT, {"userId": "customer-1"}, key=await api.key(role))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_token_names_exactly_one_subject(api: Api) -> None:
    for variables in ({}, {"userId": "u1", "anonymousId": "a1"}):
        body = await api.gql(MINT, variables)
        assert body["errors"][0]["extensions"]["code"] == "ONE_SUBJECT_REQUIRED"


async def test_a_junk_subject_is_refused(api: Api) -> None:
    body = await api.gql(MINT, {"anonymousId": "undefined"})
    assert body["errors"][0]["extensions"]["field"] == "anonymousId"


async def test_a_lifetime_over_a_day_is_refused(api: Api) -> None:
    for ttl in (0, 1441):
        body = await api.gql(MINT, {"userId": "u1", "ttl": ttl})
        error = body["errors"][0]["extensions"]
        assert (error["code"], error["field"]) == ("OUT_OF_RANGE", "ttlMinutes")


async def test_an_expired_token_is_refused_with_its_own_code(api: Api) -> None:
    token = _forged(api, {"exp": int((datetime.now(UTC) - timedelta(seconds=1)).timestamp())})
    response = await _ask(api, token)
    assert (response.status_code, _code(response)) == (401, "TOKEN_EXPIRED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_token_signed_with_the_workspace_key_is_accepted(api: Api) -> None:
    assert (await _ask(api, _forged(api, {}))).status_code == 200


async def test_an_altered_token_is_refused(api: Api) -> None:
    header, payload, signature = (await api.customer_token("customer-1")).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user:someone-else"
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = await _ask(api, f"{header}.{altered}.{signature}")
    assert (response.status_code, _code(response)) == (401, "TOKEN_INVALID")


async def test_an_unsigned_token_is_refused(api: Api) -> None:
    token = jwt.encode({"aud": "default", "sub": "user:u1"}, key=None, algorithm="none")
    response = await _ask(api, token)
    assert (response.status_code, _code(response)) == (401, "TOKEN_INVALID")


async def test_another_workspace_cannot_sign_for_this_one(api: Api) -> None:
    # A brand holding workspace "other"'s key labels a token for "default": the signature gives it away.
    token = _forged(api, {"aud": "default"}, workspace_id="other")
    response = await _ask(api, token)
    assert (response.status_code, _code(response)) == (401, "TOKEN_INVALID")


async def test_a_token_relabelled_to_another_workspace_is_refused(api: Api) -> None:
    header, payload, signature = (await api.customer_token("customer-1")).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["aud"] = "other"
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = await _ask(api, f"{header}.{altered}.{signature}")
    assert (response.status_code, _code(response)) == (401, "TOKEN_INVALID")


async def test_another_workspaces_token_sees_only_its_own_customers(api: Api) -> None:
    await api.gql(
        'mutation { setConsent(input: {userId: "shared-id", purpose: ANALYTICS, granted: true}) '
        "{ profileId } }"
    )
    other_key = await api.key_in("other", "PERSONALIZATION")
    body = await api.gql(MINT, {"userId": "shared-id"}, key=other_key)
    response = await _ask(api, body["data"]["createCustomerToken"]["token"])
    assert response.json()["data"]["me"] == {"profileId": None, "consent": []}


async def test_rotation_refuses_every_token_minted_before(api: Api) -> None:
    old = await api.customer_token("customer-1")
    body = await api.gql("mutation { rotateCustomerTokenKey }")
    assert body["data"] == {"rotateCustomerTokenKey": True}
    response = await _ask(api, old)
    assert (response.status_code, _code(response)) == (401, "TOKEN_INVALID")
    assert (await _ask(api, await api.customer_token("customer-1"))).status_code == 200


async def test_rotation_is_audited(api: Api) -> None:
    await api.gql("mutation { rotateCustomerTokenKey }")
    assert await api.db["audit_log"].count_documents({"action": "customer_token.key_rotated"}) == 1


async def test_a_customer_token_is_not_read_from_the_query_string(api: Api) -> None:
    token = await api.customer_token("customer-1")
    response = await api.http.post(f"/graphql?token={token}", json={"query": ME})
    assert (response.status_code, _code(response)) == (401, "UNAUTHENTICATED")


async def test_customer_is_not_a_role_for_api_keys(api: Api) -> None:
    body = await api.gql('mutation { createApiKey(role: CUSTOMER, name: "x") { secret } }')
    error = body["errors"][0]["extensions"]
    assert (error["code"], error["field"]) == ("NOT_A_KEY_ROLE", "role")
    assert await api.db["api_keys"].count_documents({"role": "CUSTOMER"}) == 0


async def test_a_read_only_token_may_not_change_consent(api: Api) -> None:
    token = await api.customer_token("customer-1", scopes=["READ"])
    response = await _ask(
        api, token, "mutation { setMyConsent(purpose: ANALYTICS, granted: true) { profileId } }"
    )
    assert _code(response) == "FORBIDDEN"
    assert await api.db["consent_ledger"].count_documents({}) == 0


async def test_a_token_without_scopes_is_refused_with_the_scopes_there_are(api: Api) -> None:
    body = await api.gql('mutation { createCustomerToken(userId: "u", scopes: []) { token } }')
    error = body["errors"][0]
    assert (error["extensions"]["code"], error["message"]) == (
        "TOO_FEW_ITEMS",
        "`scopes` takes one or more of READ, CONSENT and DSR.",
    )
