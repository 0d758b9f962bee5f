"""The workspaces collection: per-workspace settings (defaults when a workspace has none stored)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import MappingProxyType
from typing import Generic, TypeVar

from cachetools import TTLCache
from pymongo import ReturnDocument

from privacy.purposes import ConsentMode
from server.domain.retention import DataKind
from server.domain.workspace import WorkspaceSettings
from server.metrics import CACHE_ENTRIES
from server.storage.client import Database

# Settings are read on every request and change rarely: each process re-reads them this often.
CACHE_SECONDS = 5.0
# Workspaces remembered per process; beyond it the least recently used is forgotten (and re-read).
CACHE_SIZE = 1024
_EVERY_WORKSPACE = ""
T = TypeVar("T")


class Recent(Generic[T]):
    """Values remembered for CACHE_SECONDS, at most `size` of them (least recently used go first); a
    change made by this process forgets its entry at once."""

    def __init__(self, name: str, size: int) -> None:
        self._name = name
        self._entries: TTLCache[str, T] = TTLCache(maxsize=size, ttl=CACHE_SECONDS)

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        try:
            return self._entries[key]
        except KeyError:
            pass
        value = await load()
        self._entries[key] = value
        CACHE_ENTRIES.labels(self._name).set(len(self._entries))
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class Workspaces:
    def __init__(self, db: Database, cache_size: int = CACHE_SIZE) -> None:
        self._collection = db["workspaces"]
        self._settings = Recent[WorkspaceSettings]("workspace_settings", cache_size)
        self._generations = Recent[int]("token_generations", cache_size)
        self._origins = Recent[frozenset[str]]("allowed_origins", 1)

    async def get(self, workspace_id: str) -> WorkspaceSettings:
        return await self._settings.get(workspace_id, lambda: self._read(workspace_id))

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
            allowed_origins=frozenset(doc.get("allowed_origins", [])),
            retention=MappingProxyType(
                {DataKind(kind): days for kind, days in doc.get("retention_days", {}).items()}
            ),
            max_identifiers=doc.get("max_identifiers", WorkspaceSettings.max_identifiers),
            phone_region=doc.get("phone_region"),
        )

    async def save(self, settings: WorkspaceSettings) -> None:
        self._settings.forget(settings.id)
        self._origins.forget(_EVERY_WORKSPACE)
        # $set, not a replacement: the document also holds state that is not a setting (e.g. the
        # customer-token secret's generation), changed by its own operations.
        await self._collection.update_one(
            {"_id": settings.id},
            {
                "$set": {
                    "consent_mode": settings.consent_mode.value,
                    "half_life_days": settings.half_life / timedelta(days=1),
                    "ingest_may_merge_identified": settings.ingest_may_merge_identified,
                    "min_report_profiles": settings.min_report_profiles,
                    "pii_traits": sorted(settings.pii_traits),
                    "own_hosts": sorted(settings.own_hosts),
                    "paid_touches_need_advertising": settings.paid_touches_need_advertising,
                    "allowed_origins": sorted(settings.allowed_origins),
                    "retention_days": {kind.value: days for kind, days in settings.retention.items()},
                    "max_identifiers": settings.max_identifiers,
                    "phone_region": settings.phone_region,
                }
            },
            upsert=True,
        )

    async def token_generation(self, workspace_id: str) -> int:
        """Which customer-token key of the workspace is current (0 until the first rotation)."""

        async def load() -> int:
            doc = await self._collection.find_one({"_id": workspace_id}, {"token_generation": 1})
            return int((doc or {}).get("token_generation", 0))

        return await self._generations.get(workspace_id, load)

    async def next_token_generation(self, workspace_id: str) -> int:
        """Rotate: the next generation becomes current, so every token signed before is refused."""
        doc = await self._collection.find_one_and_update(
            {"_id": workspace_id},
            {"$inc": {"token_generation": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # an upsert that returns the document after always has one
        self._generations.forget(workspace_id)
        return int(doc["token_generation"])

    async def allowed_origins(self) -> frozenset[str]:
        """The browser origins any workspace allows (a CORS preflight does not say its workspace)."""

        async def load() -> frozenset[str]:
            return frozenset(await self._collection.distinct("allowed_origins"))

        return await self._origins.get(_EVERY_WORKSPACE, load)
