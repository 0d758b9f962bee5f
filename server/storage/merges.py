"""The merges collection: every identity merge (and refusal) with its rule and the key behind it."""

from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.identity import Merge
from server.storage.client import Database, Document, delete_chunk


class Merges:
    def __init__(self, db: Database) -> None:
        self._collection = db["merges"]

    async def record(
        self,
        workspace_id: str,
        records: list[Document],
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        if records:
            await self._collection.insert_many(
                [{**r, "workspace_id": workspace_id} for r in records], session=session
            )

    @staticmethod
    def _touching(workspace_id: str, profile_ids: list[str]) -> Document:
        return {
            "workspace_id": workspace_id,
            "$or": [{"winner_id": {"$in": profile_ids}}, {"loser_id": {"$in": profile_ids}}],
        }

    async def of_profiles(self, workspace_id: str, profile_ids: list[str]) -> list[Merge]:
        cursor = self._collection.find(
            self._touching(workspace_id, profile_ids), {"_id": 0, "workspace_id": 0}
        ).sort("at", 1)
        return [
            Merge(
                winner_id=doc["winner_id"],
                loser_id=doc.get("loser_id"),
                rule=doc["rule"],
                key_id=doc["key_id"],
                at=doc["at"],
                merged=doc["merged"],
            )
            async for doc in cursor
        ]

    async def delete_for(self, workspace_id: str, profile_ids: list[str]) -> int:
        """One bounded step of deleting these profiles' merge records (call until 0)."""
        return await delete_chunk(self._collection, self._touching(workspace_id, profile_ids))


def merge_record(
    *, winner_id: str, loser_id: str | None, rule: str, key_id: str, at: datetime, merged: bool
) -> Document:
    return {
        "winner_id": winner_id,
        "loser_id": loser_id,
        "rule": rule,
        "key_id": key_id,
        "at": at,
        "merged": merged,
    }
