"""API keys: issue (secret shown once), authenticate by keyed digest, revoke at once; and rotating the
key-encryption key, which re-wraps every data key and touches no personal data."""

import secrets
from collections.abc import Callable
from datetime import datetime

from cachetools import TTLCache

from privacy.crypto import Keyring, api_key_digest, rewrap
from server.domain.access import KEY_ROLES, ApiKeyRecord, Principal, Role
from server.domain.errors import InvalidInput, NotFound
from server.metrics import CACHE_ENTRIES
from server.services.audit import AuditService
from server.storage.api_keys import ApiKeys
from server.storage.data_keys import DataKeys

CACHE_SECONDS = 2.0
CACHE_SIZE = 10_000  # keys remembered per process; the least recently used are forgotten first
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
        # process's entry at once; other API processes notice within CACHE_SECONDS. Unknown keys are
        # never remembered, so guessing cannot grow it.
        self._known: TTLCache[str, Principal] = TTLCache(maxsize=CACHE_SIZE, ttl=CACHE_SECONDS)

    def _digest(self, secret: str) -> str:
        return api_key_digest(self._keyring, secret)

    async def authenticate(self, secret: str) -> Principal | None:
        if not secret or len(secret) > 256:
            return None
        digest = self._digest(secret)
        cached = self._known.get(digest)
        if cached is not None:
            return cached
        record = await self._keys.active_by_digest(digest)
        if record is None:
            return None
        principal = Principal(workspace_id=record.workspace_id, role=record.role, key_id=record.id)
        self._known[digest] = principal
        CACHE_ENTRIES.labels("api_keys").set(len(self._known))
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
        for digest in [d for d, known in self._known.items() if known.key_id == key_id]:
            self._known.pop(digest, None)
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


async def rewrap_all(data_keys: DataKeys, keyring: Keyring) -> int:
    """Re-wrap every data key under the keyring's current KEK; returns how many moved."""
    moved = 0
    for workspace_id, profile_id, wrapped in await data_keys.all_wrapped():
        if wrapped.kek_id == keyring.current_kek_id:
            continue
        await data_keys.put(
            workspace_id,
            profile_id,
            rewrap(keyring, wrapped, workspace_id=workspace_id, profile_id=profile_id),
        )
        moved += 1
    return moved
