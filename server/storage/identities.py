"""The identities collection: one document per identifier a workspace has seen, keyed by its keyed
hash (never the identifier itself). It maps user and anonymous ids to their live profile, and it is the
suppression list: an erased identifier keeps its document with `suppressed_at` set, forever.

Ingest reads these documents by `_id` inside its transaction and writes every one it relies on (or the
profile it points to), and erasure writes them in its own transaction, so the two always conflict and
one of them retries: a batch can never commit an identifier that an erasure has already suppressed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from server.storage.client import Database

SUPPRESSED_AT = "suppressed_at"


@dataclass(frozen=True)
class Identity:
    hash: str
    kind: str
    profile_id: str | None  # the live profile holding this user or anonymous id
    suppressed: bool


@dataclass(frozen=True)
class Claim:
    """An identifier the unit of work relies on: point it at a profile (new or moved), or only touch
    it (e-mail and phone), so a concurrent erasure of the same identifier conflicts with the unit."""

    hash: str
    kind: str
    profile_id: str | None  # None: only touched (an e-mail or phone), it points at no profile


class Identities:
    def __init__(self, db: Database) -> None:
        self._collection = db["identities"]

    async def find(
        self, workspace_id: str, hashes: Iterable[str], *, session: AsyncClientSession | None = None
    ) -> dict[str, Identity]:
        wanted = sorted(set(hashes))
        if not wanted:
            return {}
        cursor = self._collection.find({"_id": {"$in": wanted}}, session=session)
        return {
            doc["_id"]: Identity(
                hash=doc["_id"],
                kind=doc["kind"],
                profile_id=doc.get("profile_id"),
                suppressed=doc.get(SUPPRESSED_AT) is not None,
            )
            async for doc in cursor
            # Hashes are keyed per workspace already; the check keeps tenancy explicit all the same.
            if doc["workspace_id"] == workspace_id
        }

    async def claim(
        self,
        workspace_id: str,
        claims: list[Claim],
        at: datetime,
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        """Write every claimed identifier (created, re-pointed or only touched). Never un-suppresses:
        the filter skips a suppressed document, so the upsert collides with it instead and the unit
        re-reads (the unit checked suppression already; this only guards a race)."""
        if not claims:
            return
        operations = []
        for c in claims:
            changes: dict[str, object] = {"workspace_id": workspace_id, "kind": c.kind, "seen_at": at}
            if c.profile_id is not None:
                changes["profile_id"] = c.profile_id
            operations.append(
                UpdateOne({"_id": c.hash, SUPPRESSED_AT: {"$exists": False}}, {"$set": changes}, upsert=True)
            )
        await self._collection.bulk_write(operations, ordered=False, session=session)

    async def suppress(
        self,
        workspace_id: str,
        identifiers: list[tuple[str, str]],
        *,
        reason: str,
        at: datetime,
        session: AsyncClientSession | None = None,
    ) -> None:
        """Mark these (hash, kind) identifiers erased: refused from now on. A pointer to a profile stays
        until that profile is deleted, so the erasure's own transaction still finds it."""
        if not identifiers:
            return
        await self._collection.bulk_write(
            [
                UpdateOne(
                    {"_id": hash_},
                    {
                        "$set": {"workspace_id": workspace_id, "kind": kind, "reason": reason},
                        "$min": {SUPPRESSED_AT: at},
                    },
                    upsert=True,
                )
                for hash_, kind in identifiers
            ],
            ordered=False,
            session=session,
        )

    async def suppressed(self, workspace_id: str, hashes: Iterable[str]) -> set[str]:
        """Which of these identifiers are suppressed."""
        return {h for h, identity in (await self.find(workspace_id, hashes)).items() if identity.suppressed}

    async def of_profiles(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> list[Identity]:
        """The identifiers pointing at these profiles (erasure's second way in, besides the profile)."""
        if not profile_ids:
            return []
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}, session=session
        )
        return [
            Identity(doc["_id"], doc["kind"], doc.get("profile_id"), doc.get(SUPPRESSED_AT) is not None)
            async for doc in cursor
        ]

    async def release(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> None:
        """Identifiers stop pointing at these (erased) profiles."""
        if profile_ids:
            await self._collection.update_many(
                {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}},
                {"$unset": {"profile_id": ""}},
                session=session,
            )

    async def owner(self, workspace_id: str, hash_: str) -> str | None:
        """The live profile an identifier points at (None: unknown or suppressed)."""
        identity = (await self.find(workspace_id, [hash_])).get(hash_)
        return None if identity is None or identity.suppressed else identity.profile_id
