"""API keys: issue (secret shown once), authenticate by keyed digest, revoke at once."""

import secrets
import time
from collections.abc import Callable
from datetime import datetime

from privacy.crypto import Keyring, api_key_digest
from server.domain.access import KEY_ROLES, Principal, Role
from server.domain.errors import InvalidInput, NotFound
from server.services.audit import AuditService
from server.storage.api_keys import ApiKeyRecord, ApiKeys

CACHE_SECONDS = 2.0
SECRET_PREFIX = "gr_"  # noqa: S105 - a prefix, not a secret


class KeyService:
    def __init__(
        self, keys: ApiKeys, audit: AuditService, keyring: Keyring, clock: Callable[[], datetime]
    ) -> None:
        self._keys = keys
        self._audit = audit
        self._keyring = keyring
        self._clock = clock
        # Every request authenticates: known keys are remembered briefly. Revocation clears this
        # process's entry at once; other API processes notice within CACHE_SECONDS.
        self._known: dict[str, tuple[float, Principal]] = {}

    def _digest(self, secret: str) -> str:
        return api_key_digest(self._keyring, secret)

    async def authenticate(self, secret: str) -> Principal | None:
        if not secret or len(secret) > 256:
            return None
        digest = self._digest(secret)
        cached = self._known.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        record = await self._keys.active_by_digest(digest)
        if record is None:
            self._known.pop(digest, None)
            return None
        principal = Principal(workspace_id=record.workspace_id, role=record.role, key_id=record.id)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[digest] = (time.monotonic() + CACHE_SECONDS, principal)
        return principal

    async def create(
        self, *, workspace_id: str, role: Role, name: str, actor: str
    ) -> tuple[ApiKeyRecord, str]:
        if role not in KEY_ROLES:
            raise InvalidInput(
                "CUSTOMER is not a key role: mint customer tokens with createCustomerToken.",
                field="role",
                code="NOT_A_KEY_ROLE",
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        record = await self._keys.insert(
            workspace_id=workspace_id, role=role, name=name, digest=self._digest(secret), now=now
        )
        await self._audit.record_as(
            workspace_id, actor, "api_key.created", details={"key_id": record.id, "role": role.value}
        )
        return record, secret

    async def revoke(self, principal: Principal, key_id: str) -> None:
        now = self._clock()
        if not await self._keys.revoke(workspace_id=principal.workspace_id, key_id=key_id, now=now):
            raise NotFound("No such API key.", field="id")
        self._known = {d: entry for d, entry in self._known.items() if entry[1].key_id != key_id}
        await self._audit.record(principal, "api_key.revoked", details={"key_id": key_id})

    async def ensure_bootstrap(self, *, workspace_id: str, secret: str) -> None:
        """The operator's GRANULAR_BOOTSTRAP_ADMIN_KEY exists as an active ADMIN key."""
        await self._keys.ensure(
            workspace_id=workspace_id,
            role=Role.ADMIN,
            name="bootstrap",
            digest=self._digest(secret),
            now=self._clock(),
        )

    async def first_admin_key(self, workspace_id: str) -> str | None:
        """On a workspace's first start, an ADMIN key so the operator can get in (printed once)."""
        if await self._keys.list(workspace_id):
            return None
        _, secret = await self.create(
            workspace_id=workspace_id, role=Role.ADMIN, name="first-admin", actor="granular"
        )
        return secret

    async def list(self, workspace_id: str) -> list[ApiKeyRecord]:
        return await self._keys.list(workspace_id)
