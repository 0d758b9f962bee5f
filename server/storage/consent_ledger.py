"""The consent_ledger collection: append-only, one hash chain per profile, ordered by `seq`."""

from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.consent import ConsentEntry
from privacy.purposes import ConsentSource, Purpose
from server.storage.client import Database, Document, delete_chunk
from server.storage.retention import EXPIRE_AT


def _entry(doc: Document) -> ConsentEntry:
    return ConsentEntry(
        profile_id=doc["profile_id"],
        purpose=Purpose(doc["purpose"]),
        granted=doc["granted"],
        source=ConsentSource(doc["source"]),
        policy_version=doc.get("policy_version"),
        at=doc["at"],
        prev_hash=doc["prev_hash"],
        hash=doc["hash"],
        effective_at=doc.get("effective_at"),
    )


class ConsentLedger:
    def __init__(self, db: Database) -> None:
        self._collection = db["consent_ledger"]

    async def append(
        self,
        workspace_id: str,
        entries: list[tuple[int, ConsentEntry, datetime]],
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        """Insert (seq, entry, expiry) triples; a taken seq fails (the chain cannot fork)."""
        if not entries:
            return
        await self._collection.insert_many(
            [
                {
                    "workspace_id": workspace_id,
                    "profile_id": entry.profile_id,
                    "seq": seq,
                    "purpose": entry.purpose.value,
                    "granted": entry.granted,
                    "source": entry.source.value,
                    "policy_version": entry.policy_version,
                    "at": entry.at,
                    "effective_at": entry.effective_at,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                    EXPIRE_AT: expire_at,
                }
                for seq, entry, expire_at in entries
            ],
            session=session,
        )

    async def history(
        self,
        workspace_id: str,
        profile_ids: list[str],
        *,
        session: AsyncClientSession | None = None,
    ) -> list[ConsentEntry]:
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}, session=session
        ).sort([("profile_id", 1), ("seq", 1)])
        return [_entry(doc) async for doc in cursor]

    async def delete_for(self, workspace_id: str, profile_ids: list[str]) -> int:
        """One bounded step of deleting these profiles' documents (call until 0)."""
        return await delete_chunk(
            self._collection, {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}
        )
