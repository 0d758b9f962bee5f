"""The custom_channels collection: per workspace, one small document with the custom channels it
keeps (and their count) and how many events went to the fallback channel. A channel joins by one
conditional update, so concurrent writers can never keep more than the cap between them."""

from dataclasses import dataclass

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.storage.client import Database


@dataclass(frozen=True)
class CustomChannelSet:
    names: frozenset[str]
    fallback_events: int


class CustomChannels:
    def __init__(self, db: Database) -> None:
        self._collection = db["custom_channels"]

    async def get(self, workspace_id: str, *, session: AsyncClientSession | None = None) -> CustomChannelSet:
        doc = await self._collection.find_one({"_id": workspace_id}, session=session)
        if doc is None:
            return CustomChannelSet(frozenset(), 0)
        return CustomChannelSet(frozenset(doc["names"]), doc["fallback_events"])

    async def add(
        self,
        workspace_id: str,
        names: tuple[str, ...],
        *,
        cap: int,
        session: AsyncClientSession | None = None,
    ) -> None:
        """Each name joins the set unless it is there already or the set holds `cap` names."""
        await self._ensure(workspace_id, session)
        for name in names:
            await self._collection.update_one(
                {"_id": workspace_id, "names": {"$ne": name}, "count": {"$lt": cap}},
                {"$push": {"names": name}, "$inc": {"count": 1}},
                session=session,
            )

    async def count_fallback(
        self, workspace_id: str, events: int, *, session: AsyncClientSession | None = None
    ) -> None:
        await self._ensure(workspace_id, session)
        await self._collection.update_one(
            {"_id": workspace_id}, {"$inc": {"fallback_events": events}}, session=session
        )

    async def _ensure(self, workspace_id: str, session: AsyncClientSession | None) -> None:
        try:
            await self._collection.update_one(
                {"_id": workspace_id},
                {
                    "$setOnInsert": {
                        "workspace_id": workspace_id,
                        "names": [],
                        "count": 0,
                        "fallback_events": 0,
                    }
                },
                upsert=True,
                session=session,
            )
        except DuplicateKeyError:
            # A concurrent writer created it. Inside a transaction the transaction is void: re-raise,
            # so that the caller's retry runs it again.
            if session is not None and session.in_transaction:
                raise
