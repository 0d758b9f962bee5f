"""The groups collection: one document per (workspace, groupId), its traits newest-wins."""

from bson import Binary
from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.group import Group
from server.domain.profile import Trait
from server.storage.client import Database, Document


def _group(doc: Document) -> Group:
    return Group(
        id=doc["group_id"],
        traits={name: Trait(t["v"], t["at"]) for name, t in doc.get("traits", {}).items()},
        pii={name: (bytes(p["ct"]), p["at"]) for name, p in doc.get("pii", {}).items()},
    )


class Groups:
    def __init__(self, db: Database) -> None:
        self._collection = db["groups"]

    async def of_ids(
        self, workspace_id: str, group_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> dict[str, Group]:
        if not group_ids:
            return {}
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "group_id": {"$in": sorted(set(group_ids))}}, session=session
        )
        return {doc["group_id"]: _group(doc) async for doc in cursor}

    async def save_all(
        self, workspace_id: str, groups: list[Group], *, session: AsyncClientSession | None = None
    ) -> None:
        if groups:
            await self._collection.bulk_write(
                [
                    ReplaceOne(
                        {"workspace_id": workspace_id, "group_id": g.id},
                        {
                            "workspace_id": workspace_id,
                            "group_id": g.id,
                            "traits": {name: {"v": t.value, "at": t.at} for name, t in g.traits.items()},
                            "pii": {name: {"ct": Binary(ct), "at": at} for name, (ct, at) in g.pii.items()},
                        },
                        upsert=True,
                    )
                    for g in groups
                ],
                ordered=False,
                session=session,
            )
