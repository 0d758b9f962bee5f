"""The api_keys collection: keyed digests of secrets, never the secrets themselves."""

import secrets
from datetime import datetime

from server.domain.access import ApiKeyRecord, Role
from server.storage.client import Database, Document


def _record(doc: Document) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=doc["_id"],
        workspace_id=doc["workspace_id"],
        role=Role(doc["role"]),
        name=doc["name"],
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
    )


class ApiKeys:
    def __init__(self, db: Database) -> None:
        self._collection = db["api_keys"]

    async def insert(
        self, *, workspace_id: str, role: Role, name: str, digest: str, now: datetime
    ) -> ApiKeyRecord:
        doc: Document = {
            "_id": "key_" + secrets.token_hex(8),
            "workspace_id": workspace_id,
            "role": role.value,
            "name": name,
            "digest": digest,
            "created_at": now,
            "revoked_at": None,
        }
        await self._collection.insert_one(doc)
        return _record(doc)

    async def ensure(self, *, workspace_id: str, role: Role, name: str, digest: str, now: datetime) -> None:
        """Make a key with this digest exist, active, without duplicating it on restart."""
        await self._collection.update_one(
            {"digest": digest},
            {
                "$setOnInsert": {
                    "_id": "key_" + secrets.token_hex(8),
                    "workspace_id": workspace_id,
                    "role": role.value,
                    "name": name,
                    "created_at": now,
                },
                "$set": {"revoked_at": None},
            },
            upsert=True,
        )

    async def active_by_digest(self, digest: str) -> ApiKeyRecord | None:
        doc = await self._collection.find_one({"digest": digest, "revoked_at": None})
        return _record(doc) if doc else None

    async def revoke(self, *, workspace_id: str, key_id: str, now: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": key_id, "workspace_id": workspace_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )
        return result.modified_count == 1

    async def list(self, workspace_id: str) -> list[ApiKeyRecord]:
        cursor = self._collection.find({"workspace_id": workspace_id}).sort("created_at", -1)
        return [_record(doc) async for doc in cursor]
