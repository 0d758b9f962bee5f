"""One-time data migrations, run at start-up before the server takes traffic. Each is idempotent, so
two processes starting together, or a crash half-way, only repeat work."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from privacy.classification import IdentifierKind
from server.domain.profile import Profile, user_ids
from server.domain.retention import profile_expiry
from server.services.vault import Vault
from server.storage.identities import Claim, Identities
from server.storage.migrations import Migrations
from server.storage.profiles import Profiles
from server.storage.workspaces import Workspaces

logger = logging.getLogger("granular.migrations")
_PAGE = 500


class MigrationService:
    def __init__(
        self,
        migrations: Migrations,
        profiles: Profiles,
        identities: Identities,
        workspaces: Workspaces,
        vault: Vault,
        clock: Callable[[], datetime],
    ) -> None:
        self._migrations = migrations
        self._profiles = profiles
        self._identities = identities
        self._workspaces = workspaces
        self._vault = vault
        self._clock = clock

    async def run_pending(self) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[int]]]] = [
            ("identities-from-profiles", self._identities_from_profiles),
            ("blind-index-every-contact", self._blind_index_every_contact),
        ]
        for name, step in steps:
            if not await self._migrations.done(name):
                count = await step()
                await self._migrations.record(name, self._clock(), {"documents": count})
                logger.info("migration %s: %d documents", name, count)

    async def _identities_from_profiles(self) -> int:
        """The identity map for profiles written before it existed, and the old suppression list."""
        now = self._clock()
        count = 0
        for workspace_id, hash_, at in await self._migrations.legacy_suppressions():
            await self._identities.suppress(workspace_id, [(hash_, "unknown")], reason="erasure", at=at)
            count += 1
        page: list[tuple[str, Claim]] = []
        async for workspace_id, profile in self._profiles.every():
            page.extend((workspace_id, claim) for claim in self._claims(workspace_id, profile))
            if len(page) >= _PAGE:
                count += await self._claim(page, now)
                page = []
        count += await self._claim(page, now)
        await self._migrations.drop_legacy_suppressions()
        return count

    def _claims(self, workspace_id: str, profile: Profile) -> list[Claim]:
        hash_ = self._vault.identity_hash
        return [
            *(
                Claim(hash_(workspace_id, IdentifierKind.USER_ID, u), "user_id", profile.id)
                for u in user_ids(profile)
            ),
            *(
                Claim(hash_(workspace_id, IdentifierKind.ANONYMOUS_ID, a), "anonymous_id", profile.id)
                for a in profile.anonymous_ids
            ),
        ]

    async def _claim(self, page: list[tuple[str, Claim]], at: datetime) -> int:
        by_workspace: dict[str, list[Claim]] = {}
        for workspace_id, claim in page:
            by_workspace.setdefault(workspace_id, []).append(claim)
        for workspace_id, claims in by_workspace.items():
            await self._identities.claim(workspace_id, claims, at)
        return len(page)

    async def _blind_index_every_contact(self) -> int:
        """Blind indexes under the one normalization, for every trait that holds an e-mail or phone
        (not only `email` and `phone`), so look-up and erasure find every spelling."""
        count = 0
        async for workspace_id, profile in self._profiles.every(with_pii=True):
            workspace = await self._workspaces.get(workspace_id)
            keys = await self._vault.keys(workspace_id, [profile.id])
            key = keys.get(profile.id)
            if key is None:
                continue  # shredded: nothing to index
            plaintext = self._vault.open_with(workspace_id, profile, key)
            indexes = self._vault.contact_indexes(workspace_id, plaintext, region=workspace.phone_region)
            if indexes - set(profile.blind_indexes):
                merged = tuple(sorted(indexes | set(profile.blind_indexes)))
                updated = replace(profile, blind_indexes=merged)
                expiry = {profile.id: profile_expiry(profile.last_active, workspace.retention)}
                await self._profiles.save_all(workspace_id, [updated], expire_at=expiry)
                count += 1
        return count
