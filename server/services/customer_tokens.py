"""Customer tokens: short-lived JWTs (HS256) that a brand's backend mints for one shopper, so that
shopper's browser can read and change their own data and nothing else.

The key is per workspace and derived from the key file (privacy/crypto.py), numbered by a
generation kept with the workspace: rotating moves to the next generation, and every token signed
under an earlier one is refused from then on (other API processes follow within the workspace cache
time, 5 s). The JWT header's `kid` names the generation; `aud` names the workspace; expiry is checked
against the service's clock, not the machine's, so it is testable."""

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeGuard

import jwt

from privacy.crypto import Keyring, customer_token_secret
from server.domain.access import Customer, CustomerScope, Principal, Role
from server.domain.errors import InvalidInput, Unauthenticated
from server.services.audit import AuditService
from server.services.event_payload import parse
from server.storage.workspaces import Workspaces

ISSUER = "granular"
ALGORITHM = "HS256"
MAX_TTL_MINUTES = 1440
MAX_TOKEN_LENGTH = 4096
_KIND = {"user": "user_id", "anonymous": "anonymous_id"}
_SCOPES = {scope.value: scope for scope in CustomerScope}


def looks_like_token(credential: str) -> bool:
    """A JWT has three dot-separated parts; API keys have none."""
    return credential.count(".") == 2


class CustomerTokenService:
    def __init__(
        self, workspaces: Workspaces, keyring: Keyring, audit: AuditService, clock: Callable[[], datetime]
    ) -> None:
        self._workspaces = workspaces
        self._keyring = keyring
        self._audit = audit
        self._clock = clock

    async def _secret(self, workspace_id: str) -> tuple[int, bytes]:
        generation = await self._workspaces.token_generation(workspace_id)
        return generation, customer_token_secret(self._keyring, workspace_id, generation)

    async def mint(
        self,
        principal: Principal,
        *,
        user_id: str | None,
        anonymous_id: str | None,
        ttl_minutes: int,
        scopes: frozenset[CustomerScope],
    ) -> tuple[str, datetime]:
        """A token for the customer known by exactly one of the ids, valid for `ttl_minutes`."""
        if (user_id is None) == (anonymous_id is None):
            raise InvalidInput(
                "Give exactly one of userId and anonymousId.", field="userId", code="ONE_SUBJECT_REQUIRED"
            )
        # The same identifier rules as for events (no junk ids such as "undefined").
        payload = parse({"type": "identify", "userId": user_id, "anonymousId": anonymous_id})
        kind, value = ("user", payload.user_id) if payload.user_id else ("anonymous", payload.anonymous_id)
        if not 1 <= ttl_minutes <= MAX_TTL_MINUTES:
            raise InvalidInput(
                f"`ttlMinutes` must be between 1 and {MAX_TTL_MINUTES}.",
                field="ttlMinutes",
                code="OUT_OF_RANGE",
            )
        if not scopes:
            raise InvalidInput(
                "`scopes` takes one or more of READ, CONSENT and DSR.", field="scopes", code="TOO_FEW_ITEMS"
            )
        ws = principal.workspace_id
        generation, secret = await self._secret(ws)
        now = self._clock()
        expires = int((now + timedelta(minutes=ttl_minutes)).timestamp())
        token_id = secrets.token_urlsafe(12)
        claims = {
            "iss": ISSUER,
            "aud": ws,
            "sub": f"{kind}:{value}",
            "iat": int(now.timestamp()),
            "exp": expires,
            "jti": token_id,
            "scope": " ".join(sorted(scope.value for scope in scopes)),
        }
        token = jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": str(generation)})
        await self._audit.record(
            principal,
            "customer_token.created",
            details={"token_id": token_id, "ttl_minutes": ttl_minutes, "scopes": claims["scope"]},
        )
        return token, datetime.fromtimestamp(expires, tz=now.tzinfo)

    async def authenticate(self, token: str) -> Principal:
        """The customer a token speaks for; Unauthenticated (TOKEN_INVALID or TOKEN_EXPIRED) otherwise."""
        claims = await self._verified_claims(token)
        if claims["exp"] <= self._clock().timestamp():
            raise Unauthenticated("The customer token has expired.", code="TOKEN_EXPIRED")
        kind, _, value = str(claims["sub"]).partition(":")
        scopes = frozenset(_SCOPES[s] for s in str(claims.get("scope", "")).split() if s in _SCOPES)
        if kind not in _KIND or not value:
            raise _invalid()
        return Principal(
            workspace_id=claims["aud"],
            role=Role.CUSTOMER,
            key_id=f"customer-token:{claims['jti']}",
            customer=Customer(**{_KIND[kind]: value}, scopes=scopes),
        )

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid()
        try:
            # Which workspace's key, and which generation of it, come from the token itself. The
            # signature is checked first, with the key they name (derived, no database read): a
            # forged token ends here, costing no read and leaving nothing in any cache.
            workspace_id = jwt.decode(token, options={"verify_signature": False}).get("aud")
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(workspace_id, str) or not workspace_id or not _is_generation(kid):
                raise _invalid()
            claims: dict[str, Any] = jwt.decode(
                token,
                customer_token_secret(self._keyring, workspace_id, int(kid)),
                algorithms=[ALGORITHM],
                audience=workspace_id,
                issuer=ISSUER,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise _invalid() from None
        if int(kid) != await self._workspaces.token_generation(workspace_id):
            raise _invalid()  # signed before the last rotation
        return claims

    async def rotate(self, principal: Principal) -> None:
        """Move the workspace to a new token key: every token minted before is refused from now on."""
        generation = await self._workspaces.next_token_generation(principal.workspace_id)
        await self._audit.record(principal, "customer_token.key_rotated", details={"generation": generation})


def _is_generation(kid: object) -> TypeGuard[str]:
    return isinstance(kid, str) and kid.isascii() and kid.isdigit() and len(kid) <= 9


def _invalid() -> Unauthenticated:
    return Unauthenticated(
        "The customer token is not valid (altered, from another workspace, or signed before a rotation).",
        code="TOKEN_INVALID",
    )
