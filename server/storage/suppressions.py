"""The suppressions collection: keyed hashes of erased identifiers, never the identifiers."""

from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from server.storage.client import Database


class Suppressions:
    def __init__(self, db: Database) -> None:
        self._collection = db["suppressions"]

    async def any_of(self, workspace_id: str, hashes: list[str]) -> set[str]:
        if not hashes:
            return set()
        cursor = self._collection.find({"workspace_id": workspace_id, "hash": {"$in": hashes}}, {"hash": 1})
        return {doc["hash"] async for doc in cursor}

    async def add(
        self,
        workspace_id: str,
        hashes: list[str],
        *,
        reason: str,
        at: datetime,
        session: AsyncClientSession | None = None,
    ) -> None:
        if not hashes:
            return
        await self._collection.bulk_write(
            [
                UpdateOne(
                    {"workspace_id": workspace_id, "hash": h},
                    {"$setOnInsert": {"reason": reason, "at": at}},
                    upsert=True,
                )
                for h in hashes
            ],
            session=session,
        )
