"""Read-only views of the consent_ledger collection for verifying its hash chains: which chains a
workspace has, and the `seq` of an entry found at a position of its chain."""

from collections.abc import AsyncIterator

from server.storage.client import Database, Document


class LedgerChains:
    def __init__(self, db: Database) -> None:
        self._collection = db["consent_ledger"]

    async def count(self, workspace_id: str) -> int:
        """How many profiles have a chain."""
        pipeline: list[Document] = [
            {"$match": {"workspace_id": workspace_id}},
            {"$group": {"_id": "$profile_id"}},
            {"$count": "chains"},
        ]
        cursor = await self._collection.aggregate(pipeline)
        found = [doc async for doc in cursor]
        return int(found[0]["chains"]) if found else 0

    async def profile_ids(self, workspace_id: str, *, batch: int) -> AsyncIterator[list[str]]:
        """Every profile with a chain, in id order, `batch` at a time."""
        pipeline: list[Document] = [
            {"$match": {"workspace_id": workspace_id}},
            {"$group": {"_id": "$profile_id"}},
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=batch)
        ids: list[str] = []
        async for doc in cursor:
            ids.append(doc["_id"])
            if len(ids) == batch:
                yield ids
                ids = []
        if ids:
            yield ids

    async def seq_at(self, workspace_id: str, profile_id: str, index: int) -> int | None:
        """The `seq` of the entry at `index` (0 = oldest remaining) of the profile's chain."""
        doc = await self._collection.find_one(
            {"workspace_id": workspace_id, "profile_id": profile_id},
            {"seq": 1, "_id": 0},
            sort=[("seq", 1)],
            skip=index,
        )
        return int(doc["seq"]) if doc else None
