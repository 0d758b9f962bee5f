"""The data_keys collection: one wrapped AES key per profile; deleting it shreds the PII."""

from bson import Binary
from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.crypto import WrappedKey
from server.storage.client import Database


class DataKeys:
    def __init__(self, db: Database) -> None:
        self._collection = db["data_keys"]

    async def get(
        self, workspace_id: str, profile_id: str, *, session: AsyncClientSession | None = None
    ) -> WrappedKey | None:
        doc = await self._collection.find_one(
            {"workspace_id": workspace_id, "profile_id": profile_id}, session=session
        )
        return WrappedKey(kek_id=doc["kek_id"], blob=bytes(doc["blob"])) if doc else None

    async def of_profiles(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> dict[str, WrappedKey]:
        """The wrapped keys of these profiles (those that have one), in one query."""
        if not profile_ids:
            return {}
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": sorted(set(profile_ids))}}, session=session
        )
        return {doc["profile_id"]: WrappedKey(doc["kek_id"], bytes(doc["blob"])) async for doc in cursor}

    async def insert(
        self,
        workspace_id: str,
        keys: dict[str, WrappedKey],
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        """New profiles' keys (a profile that already has one fails the unique index: never replaced)."""
        if keys:
            await self._collection.insert_many(
                [
                    {
                        "workspace_id": workspace_id,
                        "profile_id": pid,
                        "kek_id": k.kek_id,
                        "blob": Binary(k.blob),
                    }
                    for pid, k in keys.items()
                ],
                session=session,
            )

    async def put(
        self,
        workspace_id: str,
        profile_id: str,
        wrapped: WrappedKey,
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        await self._collection.replace_one(
            {"workspace_id": workspace_id, "profile_id": profile_id},
            {
                "workspace_id": workspace_id,
                "profile_id": profile_id,
                "kek_id": wrapped.kek_id,
                "blob": Binary(wrapped.blob),
            },
            upsert=True,
            session=session,
        )

    async def delete(
        self,
        workspace_id: str,
        profile_ids: list[str],
        *,
        session: AsyncClientSession | None = None,
    ) -> int:
        result = await self._collection.delete_many(
            {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}, session=session
        )
        return result.deleted_count

    async def workspace_ids(self) -> list[str]:
        return [str(w) for w in await self._collection.distinct("workspace_id")]

    async def profile_ids(self, workspace_id: str, *, after: str | None, limit: int) -> list[str]:
        """The profiles that have a key, in id order, a page at a time."""
        query: dict[str, object] = {"workspace_id": workspace_id}
        if after is not None:
            query["profile_id"] = {"$gt": after}
        cursor = self._collection.find(query, {"profile_id": 1}).sort("profile_id", 1).limit(limit)
        return [doc["profile_id"] async for doc in cursor]

    async def all_wrapped(self) -> list[tuple[str, str, WrappedKey]]:
        """Every wrapped key (for KEK rotation, which re-wraps keys and never touches data)."""
        return [
            (
                doc["workspace_id"],
                doc["profile_id"],
                WrappedKey(kek_id=doc["kek_id"], blob=bytes(doc["blob"])),
            )
            async for doc in self._collection.find({})
        ]
