"""The migrations collection: which one-time data migrations have run (each is idempotent anyway)."""

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from server.storage.client import Database, Document


class Migrations:
    def __init__(self, db: Database) -> None:
        self._collection = db["migrations"]
        self._db = db

    async def done(self, name: str) -> bool:
        return await self._collection.find_one({"_id": name}) is not None

    async def record(self, name: str, at: datetime, details: Document) -> None:
        with contextlib.suppress(DuplicateKeyError):  # another process finished it too
            await self._collection.insert_one({"_id": name, "at": at, **details})

    async def legacy_suppressions(self) -> list[tuple[str, str, datetime]]:
        """(workspace, hash, at) of the suppression list kept before identities existed."""
        cursor = self._db["suppressions"].find({}, {"workspace_id": 1, "hash": 1, "at": 1})
        return [(doc["workspace_id"], doc["hash"], doc["at"]) async for doc in cursor]

    async def drop_legacy_suppressions(self) -> None:
        await self._db["suppressions"].drop()
