"""The workspaces collection: per-workspace settings (defaults when a workspace has none stored)."""

from datetime import timedelta

from privacy.purposes import ConsentMode
from server.domain.workspace import WorkspaceSettings
from server.storage.client import Database


class Workspaces:
    def __init__(self, db: Database) -> None:
        self._collection = db["workspaces"]

    async def get(self, workspace_id: str) -> WorkspaceSettings:
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
        )

    async def save(self, settings: WorkspaceSettings) -> None:
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
            },
            upsert=True,
        )
