"""The model_fits collection: each workspace's fitted models, newest first."""

from datetime import datetime
from typing import Any

from server.storage.client import Database, Document


class ModelFits:
    def __init__(self, db: Database) -> None:
        self._collection = db["model_fits"]

    async def save(self, workspace_id: str, kind: str, as_of: datetime, fit: dict[str, Any]) -> None:
        await self._collection.insert_one({"workspace_id": workspace_id, "kind": kind, "as_of": as_of, **fit})

    async def latest(self, workspace_id: str, kind: str) -> Document | None:
        return await self._collection.find_one(
            {"workspace_id": workspace_id, "kind": kind}, {"_id": 0}, sort=[("as_of", -1), ("_id", -1)]
        )
