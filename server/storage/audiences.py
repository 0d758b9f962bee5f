"""The audiences, audience_members and audience_changes collections.

A member's document id is "<audience id>:<profile id>", so an audience's member list, in profile-id
order, is a range scan of the `_id` index (the cheapest read on every MongoDB, the embedded one too);
a profile's memberships are found by the single-field `profile_id` index. Each entry and exit is one
document of audience_changes (audience, profile, +1/−1, time): the size history is a running sum,
and who was a member at a past moment is each profile's latest change up to then.
"""

import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, InsertOne
from pymongo.errors import BulkWriteError

from privacy.purposes import Purpose
from server.domain.audience import Audience, MembershipChange, StoredAudience, parse, to_data
from server.domain.errors import NotFound
from server.storage.client import Database, Document, StreamPosition, find_in, watch

_END = "\uffff"  # after every character a profile id uses: the upper bound of an audience's range


@dataclass(frozen=True)
class Membership:
    audience_id: str
    profile_id: str
    since: datetime


@dataclass(frozen=True)
class Restriction:
    """The profiles a report is restricted to: the audience's members at `as_of`, or its current
    members when `as_of` is None."""

    audience_id: str
    as_of: datetime | None = None


def _member_id(audience_id: str, profile_id: str) -> str:
    return f"{audience_id}:{profile_id}"


def members_only(restriction: Restriction | None) -> list[Document]:
    """Stages after a group by profile id that keep the restriction's profiles only, joined inside the
    database. Current members: a join on the member documents' `_id` ("<audience>:<profile>").
    Members at `as_of`: each profile's latest entry or exit at or before it (of two at the same time,
    the later recorded, by `_id`) is an entry; the `membership_as_of` index answers each profile."""
    if restriction is None:
        return []
    audience = restriction.audience_id
    if restriction.as_of is None:
        join: list[Document] = [
            {"$addFields": {"_member": {"$concat": [audience + ":", "$_id"]}}},
            {
                "$lookup": {
                    "from": "audience_members",
                    "localField": "_member",
                    "foreignField": "_id",
                    "as": "_in",
                }
            },
            {"$match": {"_in.0": {"$exists": True}}},
        ]
    else:
        # localField/foreignField with a pipeline (MongoDB 5.0+): the embedded database drives it
        # through an index led by `profile_id`; the `let`-only form scans the collection per profile.
        latest: list[Document] = [
            {"$match": {"audience_id": audience, "at": {"$lte": restriction.as_of}}},
            {"$sort": {"at": -1, "_id": -1}},
            {"$limit": 1},
            {"$project": {"_id": 0, "delta": 1}},
        ]
        join = [
            {
                "$lookup": {
                    "from": "audience_changes",
                    "localField": "_id",
                    "foreignField": "profile_id",
                    "pipeline": latest,
                    "as": "_in",
                }
            },
            {"$match": {"_in.0.delta": 1}},
        ]
    return [*join, {"$project": {"_in": 0, "_member": 0}}]


def _audience(doc: Document) -> StoredAudience:
    purpose = doc.get("purpose")
    return StoredAudience(
        Audience(
            id=doc["_id"],
            name=doc["name"],
            rule=parse(doc["rule"]),
            purpose=Purpose(purpose) if purpose else None,
            webhook_url=doc.get("webhook_url"),
        ),
        doc["created_at"],
        doc["updated_at"],
    )


class Audiences:
    def __init__(self, db: Database) -> None:
        self._audiences = db["audiences"]
        self._members = db["audience_members"]
        self._changes = db["audience_changes"]

    # Definitions

    async def insert(
        self, workspace_id: str, audience: Audience, secret: str, now: datetime
    ) -> StoredAudience:
        doc = {
            "_id": "aud_" + secrets.token_hex(8),
            "workspace_id": workspace_id,
            "name": audience.name,
            "purpose": audience.purpose.value if audience.purpose else None,
            "rule": to_data(audience.rule),
            "webhook_url": audience.webhook_url,
            "secret": secret,
            "created_at": now,
            "updated_at": now,
        }
        await self._audiences.insert_one(doc)
        return _audience(doc)

    async def replace(self, workspace_id: str, audience: Audience, now: datetime) -> bool:
        result = await self._audiences.update_one(
            {"_id": audience.id, "workspace_id": workspace_id},
            {
                "$set": {
                    "name": audience.name,
                    "purpose": audience.purpose.value if audience.purpose else None,
                    "rule": to_data(audience.rule),
                    "webhook_url": audience.webhook_url,
                    "updated_at": now,
                }
            },
        )
        return result.matched_count == 1

    async def get(self, workspace_id: str, audience_id: str) -> StoredAudience | None:
        doc = await self._audiences.find_one({"_id": audience_id})
        return _audience(doc) if doc and doc["workspace_id"] == workspace_id else None

    async def restriction(
        self, workspace_id: str, audience_id: str | None, *, as_of: datetime | None
    ) -> Restriction | None:
        """Whom a report is restricted to (None without an audience): the audience's members at
        `as_of`, or its current members when that is None; NOT_FOUND naming `audience` when the
        workspace has no such audience."""
        if audience_id is None:
            return None
        if await self.get(workspace_id, audience_id) is None:
            raise NotFound("No such audience.", field="audience")
        return Restriction(audience_id, as_of)

    async def of_workspace(self, workspace_id: str) -> list[StoredAudience]:
        cursor = self._audiences.find({"workspace_id": workspace_id}).sort("created_at", 1)
        return [_audience(doc) async for doc in cursor]

    async def count(self, workspace_id: str) -> int:
        return await self._audiences.count_documents({"workspace_id": workspace_id})

    async def workspace_ids(self) -> list[str]:
        return [str(w) for w in await self._audiences.distinct("workspace_id")]

    async def delete(self, workspace_id: str, audience_id: str) -> bool:
        """The definition, its members and its history; False if there was no such audience."""
        result = await self._audiences.delete_one({"_id": audience_id, "workspace_id": workspace_id})
        if result.deleted_count == 0:
            return False
        await self._members.delete_many(_range(audience_id))
        await self._changes.delete_many({"audience_id": audience_id})
        return True

    # Membership

    async def memberships_of(self, workspace_id: str, profile_ids: Iterable[str]) -> list[Membership]:
        """Every membership of these profiles, from the `profile_id` index (ids in chunks)."""
        return [
            Membership(doc["audience_id"], doc["profile_id"], doc["since"])
            async for doc in find_in(self._members, "profile_id", profile_ids)
            if doc["workspace_id"] == workspace_id
        ]

    async def apply(
        self, workspace_id: str, entered: list[tuple[str, str]], left: list[tuple[str, str]], now: datetime
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Record entries and exits ((audience id, profile id) pairs): one write per collection.
        An entry another process recorded first (a duplicate `_id`) is not recorded twice in the
        history. Plain inserts: on the embedded database an upsert costs several times more."""
        if not entered and not left:
            return [], []
        writes: list[Any] = [
            InsertOne(
                {
                    "_id": _member_id(a, p),
                    "workspace_id": workspace_id,
                    "audience_id": a,
                    "profile_id": p,
                    "since": now,
                }
            )
            for a, p in entered
        ]
        writes += [DeleteOne({"_id": _member_id(a, p)}) for a, p in left]
        duplicates: set[int] = set()
        try:
            await self._members.bulk_write(writes, ordered=False)
        except BulkWriteError as error:
            failed = error.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in failed):
                raise
            duplicates = {e["index"] for e in failed}
        new = [pair for i, pair in enumerate(entered) if i not in duplicates]
        changes = [(a, p, 1) for a, p in new] + [(a, p, -1) for a, p in left]
        if changes:
            await self._changes.insert_many(
                [
                    {"workspace_id": workspace_id, "audience_id": a, "profile_id": p, "delta": d, "at": now}
                    for a, p, d in changes
                ],
                ordered=False,
            )
        return new, left

    async def members(self, audience_id: str, *, first: int, after: str | None) -> list[Membership]:
        """Members in profile-id order after the `after` profile id: a range scan of `_id`."""
        bounds = _range(audience_id)
        if after is not None:
            bounds["_id"]["$gt"] = _member_id(audience_id, after)
        cursor = self._members.find(bounds).sort("_id", 1).limit(first)
        return [Membership(doc["audience_id"], doc["profile_id"], doc["since"]) async for doc in cursor]

    async def size(self, audience_id: str) -> int:
        return await self._members.count_documents(_range(audience_id))

    async def changes(self, audience_id: str, until: datetime) -> list[tuple[datetime, int]]:
        """(time, +1/−1) of every entry and exit up to `until`."""
        cursor = self._changes.find({"audience_id": audience_id}, {"at": 1, "delta": 1})
        return [(doc["at"], doc["delta"]) async for doc in cursor if doc["at"] < until]

    async def change_feed(
        self, opened: Callable[[], None], position: StreamPosition
    ) -> AsyncIterator[MembershipChange]:
        """Every entry and exit from now on, as the member documents come and go (see `watch`): exits
        by erasure, by a deleted audience and by a forgotten profile included, which leave no history."""
        pipeline: list[Document] = [{"$match": {"operationType": {"$in": ["insert", "delete"]}}}]
        async for change in watch(self._members, pipeline, opened, position):
            if change["operationType"] == "insert":
                doc = change["fullDocument"]
                yield MembershipChange(doc["audience_id"], doc["profile_id"], True, doc["since"])
            else:
                audience_id, profile_id = change["documentKey"]["_id"].split(":", 1)
                # wallTime since MongoDB 6.0; the cluster time (seconds) before.
                at = change.get("wallTime") or change["clusterTime"].as_datetime()
                yield MembershipChange(audience_id, profile_id, False, at)

    async def history_of(self, workspace_id: str, profile_ids: list[str]) -> list[MembershipChange]:
        """Every entry and exit of these profiles, oldest first (for an export)."""
        if not profile_ids:
            return []
        cursor = self._changes.find({"profile_id": {"$in": sorted(set(profile_ids))}})
        found = [_change(doc) async for doc in cursor if doc["workspace_id"] == workspace_id]
        return sorted(found, key=lambda c: c.at)

    async def forget_profiles(self, workspace_id: str, profile_ids: list[str]) -> int:
        """Every membership and every recorded entry or exit of these profiles (erasure)."""
        if not profile_ids:
            return 0
        query = {"workspace_id": workspace_id, "profile_id": {"$in": sorted(set(profile_ids))}}
        members = await self._members.delete_many(query)
        changes = await self._changes.delete_many(query)
        return members.deleted_count + changes.deleted_count


def _change(doc: Document) -> MembershipChange:
    return MembershipChange(doc["audience_id"], doc["profile_id"], doc["delta"] > 0, doc["at"])


def _range(audience_id: str) -> Document:
    return {"_id": {"$gt": _member_id(audience_id, ""), "$lt": _member_id(audience_id, _END)}}
