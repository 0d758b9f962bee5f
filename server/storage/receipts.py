"""The receipts collection: the message ids of identify, alias and group messages, so a resent one is
a duplicate exactly like a resent event (events carry their own message ids)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from server.storage.client import Database, delete_chunk
from server.storage.retention import EXPIRE_AT


@dataclass(frozen=True)
class Receipt:
    message_id: str
    type: str
    profile_id: str
    received_at: datetime
    expire_at: datetime | None


class Receipts:
    def __init__(self, db: Database) -> None:
        self._collection = db["receipts"]

    async def existing(
        self, workspace_id: str, message_ids: Iterable[str], *, session: AsyncClientSession | None = None
    ) -> set[str]:
        wanted = sorted(set(message_ids))
        if not wanted:
            return set()
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "message_id": {"$in": wanted}},
            {"message_id": 1, "_id": 0},
            session=session,
        )
        return {doc["message_id"] async for doc in cursor}

    async def insert(
        self, workspace_id: str, receipts: list[Receipt], *, session: AsyncClientSession | None = None
    ) -> None:
        if receipts:
            await self._collection.insert_many(
                [
                    {
                        "workspace_id": workspace_id,
                        "message_id": r.message_id,
                        "type": r.type,
                        "profile_id": r.profile_id,
                        "received_at": r.received_at,
                        EXPIRE_AT: r.expire_at,
                    }
                    for r in receipts
                ],
                ordered=False,
                session=session,
            )

    async def delete_for(self, workspace_id: str, profile_ids: list[str]) -> int:
        """One bounded step of deleting these profiles' receipts (call until 0)."""
        return await delete_chunk(
            self._collection, {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}
        )
