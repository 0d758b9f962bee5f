"""The workspaces collection: per-workspace settings (defaults when a workspace has none stored)."""

import time
from datetime import timedelta

from privacy.purposes import ConsentMode
from server.domain.workspace import WorkspaceSettings
from server.storage.client import Database

# Settings are read on every request and change rarely: each process re-reads them this often.
CACHE_SECONDS = 5.0


class Workspaces:
    def __init__(self, db: Database) -> None:
        self._collection = db["workspaces"]
        self._cache: dict[str, tuple[float, WorkspaceSettings]] = {}

    async def get(self, workspace_id: str) -> WorkspaceSettings:
        cached = self._cache.get(workspace_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        settings = await self._read(workspace_id)
        self._cache[workspace_id] = (time.monotonic() + CACHE_SECONDS, settings)
        return settings

    async def _read(self, workspace_id: str) -> WorkspaceSettings:
        doc = await self._collection.find_one({"_id": workspace_id})
        if doc is None:
            return WorkspaceSettings(id=workspace_id)
        return WorkspaceSettings(
            id=workspace_id,
            consent_mode=ConsentMode(doc.get("consent_mode", ConsentMode.OPT_IN.value)),
            half_life=timedelta(days=doc.get("half_life_days", 7.0)),
            ingest_may_merge_identified=doc.get("ingest_may_merge_identified", False),
            min_report_profiles=doc.get("min_report_profiles", 1),
            pii_traits=frozenset(doc.get("pii_traits", [])),
            own_hosts=frozenset(doc.get("own_hosts", [])),
            paid_touches_need_advertising=doc.get("paid_touches_need_advertising", False),
        )

    async def save(self, settings: WorkspaceSettings) -> None:
        self._cache.pop(settings.id, None)
        await self._collection.replace_one(
            {"_id": settings.id},
            {
                "_id": settings.id,
                "consent_mode": settings.consent_mode.value,
                "half_life_days": settings.half_life / timedelta(days=1),
                "ingest_may_merge_identified": settings.ingest_may_merge_identified,
                "min_report_profiles": settings.min_report_profiles,
                "pii_traits": sorted(settings.pii_traits),
                "own_hosts": sorted(settings.own_hosts),
                "paid_touches_need_advertising": settings.paid_touches_need_advertising,
            },
            upsert=True,
        )
