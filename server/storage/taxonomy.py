"""The taxonomy collection (a workspace's own event definitions) and unplanned event names."""

from datetime import datetime

from privacy.purposes import Purpose
from server.domain.taxonomy import EventDefinition, Phase
from server.storage.client import Database, Document


def _definition(doc: Document) -> EventDefinition:
    value_by = doc.get("value_by")
    return EventDefinition(
        name=doc["name"],
        phase=Phase[doc["phase"]] if doc.get("phase") else None,
        value=doc["value"],
        purpose=Purpose(doc["purpose"]),
        allowed_properties=frozenset(doc.get("allowed_properties", [])),
        description=doc.get("description", ""),
        value_by=(value_by[0], tuple((k, v) for k, v in value_by[1])) if value_by else None,
    )


class TaxonomyStore:
    def __init__(self, db: Database) -> None:
        self._definitions = db["taxonomy"]
        self._unplanned = db["unplanned_events"]

    async def overrides(self, workspace_id: str) -> list[EventDefinition]:
        cursor = self._definitions.find({"workspace_id": workspace_id})
        return [_definition(doc) async for doc in cursor]

    async def save(self, workspace_id: str, definition: EventDefinition) -> None:
        doc: Document = {
            "workspace_id": workspace_id,
            "name": definition.name,
            "phase": definition.phase.name if definition.phase else None,
            "value": definition.value,
            "purpose": definition.purpose.value,
            "allowed_properties": sorted(definition.allowed_properties),
            "description": definition.description,
            "value_by": (
                [definition.value_by[0], [list(pair) for pair in definition.value_by[1]]]
                if definition.value_by
                else None
            ),
        }
        await self._definitions.replace_one(
            {"workspace_id": workspace_id, "name": definition.name}, doc, upsert=True
        )

    async def count_unplanned(self, workspace_id: str, counts: dict[str, int], at: datetime) -> None:
        for name, count in counts.items():
            await self._unplanned.update_one(
                {"workspace_id": workspace_id, "name": name},
                {"$inc": {"count": count}, "$max": {"last_seen": at}, "$min": {"first_seen": at}},
                upsert=True,
            )

    async def unplanned(self, workspace_id: str, limit: int) -> list[tuple[str, int, datetime]]:
        cursor = self._unplanned.find({"workspace_id": workspace_id}).sort("count", -1).limit(limit)
        return [(doc["name"], doc["count"], doc["last_seen"]) async for doc in cursor]
