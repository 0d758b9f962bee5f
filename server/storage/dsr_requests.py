"""The dsr_requests collection: each data-subject request, its progress and its result."""

import secrets
from datetime import datetime

from pymongo import ReturnDocument

from privacy.erasure import DsrKind, DsrStatus, Regulation
from server.domain.dsr import DsrRecord
from server.domain.errors import InvalidInput, NotFound
from server.storage.client import Database, Document
from server.storage.retention import EXPIRE_AT


def _record(doc: Document) -> DsrRecord:
    return DsrRecord(
        id=doc["_id"],
        kind=DsrKind(doc["kind"]),
        regulation=Regulation(doc["regulation"]),
        status=DsrStatus(doc["status"]),
        received_at=doc["received_at"],
        deadline=doc["deadline"],
        completed_at=doc.get("completed_at"),
        requested_by=doc["requested_by"],
        subject_hashes=tuple(doc.get("subject_hashes", ())),
        profile_ids=tuple(doc.get("profile_ids", ())),
        result=doc.get("result", {}),
        error=doc.get("error"),
        export_digest=doc.get("export_digest"),
        export_expires_at=doc.get("export_expires_at"),
    )


class DsrRequests:
    def __init__(self, db: Database) -> None:
        self._collection = db["dsr_requests"]

    async def create(
        self,
        workspace_id: str,
        *,
        kind: DsrKind,
        regulation: Regulation,
        received_at: datetime,
        deadline: datetime,
        requested_by: str,
        subject_hashes: list[str],
        profile_ids: list[str],
        expire_at: datetime,
    ) -> DsrRecord:
        doc: Document = {
            "_id": "dsr_" + secrets.token_hex(10),
            "workspace_id": workspace_id,
            "kind": kind.value,
            "regulation": regulation.value,
            "status": DsrStatus.RECEIVED.value,
            "received_at": received_at,
            "deadline": deadline,
            "completed_at": None,
            "requested_by": requested_by,
            "subject_hashes": subject_hashes,
            "profile_ids": profile_ids,
            "result": {},
            EXPIRE_AT: expire_at,
        }
        await self._collection.insert_one(doc)
        return _record(doc)

    async def unfinished_for(
        self, workspace_id: str, kind: DsrKind, subject_hashes: list[str]
    ) -> DsrRecord | None:
        """A request of this kind for the same subject that has not completed (to resume it)."""
        doc = await self._collection.find_one(
            {
                "workspace_id": workspace_id,
                "kind": kind.value,
                "status": {"$ne": DsrStatus.COMPLETED.value},
                "subject_hashes": {"$in": subject_hashes},
            }
        )
        return _record(doc) if doc else None

    async def get(self, workspace_id: str, request_id: str) -> DsrRecord | None:
        doc = await self._collection.find_one({"_id": request_id, "workspace_id": workspace_id})
        return _record(doc) if doc else None

    async def update(self, workspace_id: str, request_id: str, changes: Document) -> DsrRecord:
        doc = await self._collection.find_one_and_update(
            {"_id": request_id, "workspace_id": workspace_id},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound("No such DSR request.", field="id")
        return _record(doc)

    async def count_into(self, workspace_id: str, request_id: str, collection: str, count: int) -> None:
        await self._collection.update_one(
            {"_id": request_id, "workspace_id": workspace_id},
            {"$inc": {f"result.deleted.{collection}": count}},
        )

    async def claim_export(self, digest: str, now: datetime) -> tuple[str, DsrRecord] | None:
        """The export behind a download link, once: the link is spent as it is used. The link
        carries no key, so its unguessable token is what names the workspace."""
        doc = await self._collection.find_one_and_update(
            {"export_digest": digest, "export_expires_at": {"$gt": now}},
            {"$set": {"export_digest": None, "result.downloaded_at": now}},
        )
        return (doc["workspace_id"], _record(doc)) if doc else None

    async def page(
        self,
        workspace_id: str,
        *,
        status: DsrStatus | None,
        overdue_at: datetime | None,
        first: int,
        after: str | None,
    ) -> list[DsrRecord]:
        query: Document = {"workspace_id": workspace_id}
        if status is not None:
            query["status"] = status.value
        if overdue_at is not None:
            query["deadline"] = {"$lt": overdue_at}
            query.setdefault("status", {"$ne": DsrStatus.COMPLETED.value})
        if after is not None:
            # Newest first: continue below the (received_at, _id) of the request the cursor names.
            last = await self._collection.find_one({"_id": after, "workspace_id": workspace_id})
            if last is None:
                raise InvalidInput(
                    "`after` takes the `endCursor` of a previous page.", field="after", code="INVALID_CURSOR"
                )
            query["$or"] = [
                {"received_at": {"$lt": last["received_at"]}},
                {"received_at": last["received_at"], "_id": {"$lt": after}},
            ]
        cursor = self._collection.find(query).sort([("received_at", -1), ("_id", -1)]).limit(first)
        return [_record(doc) async for doc in cursor]

    async def forget_profiles(self, workspace_id: str, profile_ids: list[str], *, keep: str) -> int:
        """Other requests stop naming erased profiles (their counts stay); `keep` is the erasure's own."""
        result = await self._collection.update_many(
            {"workspace_id": workspace_id, "_id": {"$ne": keep}, "profile_ids": {"$in": profile_ids}},
            {"$pull": {"profile_ids": {"$in": profile_ids}}, "$set": {"subject_erased": True}},
        )
        return result.modified_count
