"""The audit_log collection: who did what to which profile, append-only."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from server.domain.paging import invalid_cursor
from server.storage.client import Database, Document
from server.storage.retention import EXPIRE_AT


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str
    profile_id: str | None
    details: dict[str, Any]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._collection = db["audit_log"]

    async def append(
        self,
        *,
        workspace_id: str,
        actor: str,
        action: str,
        at: datetime,
        expire_at: datetime,
        profile_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """The new entry's id."""
        entries = [(profile_id, details or {})]
        (entry_id,) = await self.append_many(
            workspace_id=workspace_id, actor=actor, action=action, at=at, expire_at=expire_at, entries=entries
        )
        return entry_id

    async def append_many(
        self,
        *,
        workspace_id: str,
        actor: str,
        action: str,
        at: datetime,
        expire_at: datetime,
        entries: Sequence[tuple[str | None, dict[str, Any]]],
    ) -> list[str]:
        """One entry per (profile id, details), inserted together; their ids."""
        result = await self._collection.insert_many(
            [
                {
                    "workspace_id": workspace_id,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "profile_id": profile_id,
                    "details": details,
                    EXPIRE_AT: expire_at,
                }
                for profile_id, details in entries
            ]
        )
        return [str(i) for i in result.inserted_ids]

    async def count_again(self, workspace_id: str, entry_id: str) -> bool:
        """One more occurrence of what the entry records (`details.count`); False if it is gone."""
        result = await self._collection.update_one(
            {"_id": ObjectId(entry_id), "workspace_id": workspace_id}, {"$inc": {"details.count": 1}}
        )
        return result.matched_count == 1

    async def page(
        self,
        workspace_id: str,
        *,
        profile_id: str | None,
        action: str | None,
        first: int,
        after: str | None,
    ) -> list[AuditEntry]:
        """Newest first; `after` is the id of the last entry of the previous page."""
        query: Document = {"workspace_id": workspace_id}
        if profile_id is not None:
            query["profile_id"] = profile_id
        if action is not None:
            query["action"] = action
        if after is not None:
            if not ObjectId.is_valid(after):
                raise invalid_cursor()
            query["_id"] = {"$lt": ObjectId(after)}
        cursor = self._collection.find(query).sort("_id", -1).limit(first)
        return [
            AuditEntry(
                id=str(doc["_id"]),
                at=doc["at"],
                actor=doc["actor"],
                action=doc["action"],
                profile_id=doc.get("profile_id"),
                details=doc.get("details", {}),
            )
            async for doc in cursor
        ]

    async def pseudonymize(self, workspace_id: str, pseudonyms: dict[str, str]) -> int:
        """Replace profile ids with pseudonyms: the entries stay as proof, without the person."""
        changed = 0
        for profile_id, pseudonym in pseudonyms.items():
            result = await self._collection.update_many(
                {"workspace_id": workspace_id, "profile_id": profile_id}, {"$set": {"profile_id": pseudonym}}
            )
            changed += result.modified_count
        return changed
