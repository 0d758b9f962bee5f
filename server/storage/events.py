"""The events collection: one document per accepted message, unique per (workspace, messageId)."""

import math
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.event import Activity, StoredEvent
from server.domain.taxonomy import Phase
from server.metrics import SKIPPED_PURCHASES
from server.storage.audiences import Restriction, members_only
from server.storage.client import Database, Document, chunks, delete_chunk
from server.storage.retention import EXPIRE_AT


def to_doc(workspace_id: str, event: StoredEvent) -> Document:
    doc: Document = {"_id": ObjectId(event.id)} if event.id else {}  # new events get theirs from the driver
    return doc | {
        "workspace_id": workspace_id,
        "message_id": event.message_id,
        "profile_id": event.profile_id,
        "type": event.type,
        "event": event.name,
        "timestamp": event.timestamp,
        "received_at": event.received_at,
        "phase": event.phase.name if event.phase else None,
        "value": event.value,
        "planned": event.planned,
        "channel": event.channel,
        "campaign": event.campaign,
        "properties": event.properties,
        "context": event.context,
        "consent": event.consent,
        EXPIRE_AT: event.expire_at,
    }


def of_doc(doc: Document) -> StoredEvent:
    return StoredEvent(
        id=str(doc["_id"]),
        message_id=doc["message_id"],
        profile_id=doc["profile_id"],
        type=doc["type"],
        name=doc["event"],
        timestamp=doc["timestamp"],
        received_at=doc["received_at"],
        phase=Phase[doc["phase"]] if doc.get("phase") else None,
        value=doc["value"],
        planned=doc["planned"],
        channel=doc["channel"],
        campaign=doc.get("campaign"),
        properties=doc.get("properties", {}),
        context=doc.get("context", {}),
        consent=doc.get("consent", {}),
        expire_at=doc.get(EXPIRE_AT),
    )


def _between(since: datetime | None, until: datetime | None) -> Document:
    """A range condition, inclusive at both ends; empty when neither end is given."""
    window: Document = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lte"] = until
    return window


# What an order is worth, and which events are orders or refunds (LTV, its distribution and the early
# drivers agree): as a query filter, and as an expression inside a grouping.
REVENUE: Document = {"$ifNull": ["$properties.revenue", {"$ifNull": ["$properties.value", 0]}]}
_PURCHASES: Document = {"$or": [{"phase": "ACTION"}, {"event": "order_refunded"}]}
IS_PURCHASE: Document = {"$or": [{"$eq": ["$phase", "ACTION"]}, {"$eq": ["$event", "order_refunded"]}]}


def signed(revenue: object) -> Document:
    """A refund's revenue counts against the customer."""
    return {"$cond": [{"$eq": ["$event", "order_refunded"]}, {"$multiply": [-1, {"$abs": revenue}]}, revenue]}


# Inside a grouping by profile: [time, revenue] of each purchase, nothing for other events.
BOUGHT: Document = {"$cond": [IS_PURCHASE, ["$timestamp", signed(REVENUE)], "$$REMOVE"]}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _finite_purchases(rows: list[list[Any]]) -> list[tuple[datetime, float]]:
    """(time, revenue) of the purchases whose revenue is a finite number; the others were stored
    before non-finite numbers were refused at ingest: skipped, and counted."""
    finite = [(at, float(value)) for at, value in rows if _finite(value)]
    if len(finite) < len(rows):
        SKIPPED_PURCHASES.inc(len(rows) - len(finite))
    return finite


def new_event_id() -> str:
    return str(ObjectId())


class Events:
    def __init__(self, db: Database) -> None:
        self._collection = db["events"]

    async def existing_message_ids(
        self,
        workspace_id: str,
        message_ids: list[str],
        *,
        session: AsyncClientSession | None = None,
    ) -> set[str]:
        if not message_ids:
            return set()
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "message_id": {"$in": message_ids}},
            {"message_id": 1, "_id": 0},
            session=session,
        )
        return {doc["message_id"] async for doc in cursor}

    async def insert(
        self,
        workspace_id: str,
        events: list[StoredEvent],
        *,
        session: AsyncClientSession | None = None,
    ) -> None:
        if events:
            await self._collection.insert_many(
                [to_doc(workspace_id, e) for e in events], ordered=True, session=session
            )

    async def repoint(
        self,
        workspace_id: str,
        loser: str,
        winner: str,
        *,
        session: AsyncClientSession | None = None,
    ) -> int:
        result = await self._collection.update_many(
            {"workspace_id": workspace_id, "profile_id": loser},
            {"$set": {"profile_id": winner}},
            session=session,
        )
        return result.modified_count

    async def of_profile(
        self, workspace_id: str, profile_id: str, *, session: AsyncClientSession | None = None
    ) -> AsyncIterator[StoredEvent]:
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": profile_id}, session=session
        ).sort([("timestamp", 1), ("_id", 1)])
        async for doc in cursor:
            yield of_doc(doc)

    async def of_profiles(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> list[StoredEvent]:
        """Every event of these profiles (a merge rescoring them), in one query."""
        if not profile_ids:
            return []
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": sorted(set(profile_ids))}}, session=session
        )
        return [of_doc(doc) async for doc in cursor]

    async def delete_for(self, workspace_id: str, profile_ids: list[str]) -> int:
        """One bounded step of deleting these profiles' documents (call until 0)."""
        return await delete_chunk(
            self._collection, {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}
        )

    async def stream_for(self, workspace_id: str, profile_ids: list[str]) -> AsyncIterator[StoredEvent]:
        """Every event of these profiles, oldest first, one document at a time (exports stream)."""
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": profile_ids}}, batch_size=500
        ).sort([("timestamp", 1), ("_id", 1)])
        async for doc in cursor:
            yield of_doc(doc)

    async def timelines(
        self,
        workspace_id: str,
        *,
        conversion: str | None,
        since: datetime | None,
        until: datetime | None,
        paid_channels_need_advertising: tuple[str, ...] = (),
        audience: Restriction | None = None,
    ) -> AsyncIterator[tuple[str, list[list[Any]]]]:
        """Per profile, its compact timeline [timestamp, channel|None, campaign, event, is_conversion,
        value], built by aggregation (it runs where the data is, on every shard), streamed one
        profile at a time. A touch is an event whose consent snapshot granted analytics."""
        match: Document = {"workspace_id": workspace_id}
        if window := _between(since, until):
            match["timestamp"] = window
        is_conversion = {"$eq": ["$event", conversion]} if conversion else {"$eq": ["$phase", "ACTION"]}
        touch: Document = {"$eq": ["$consent.analytics", True]}
        if paid_channels_need_advertising:
            paid_ok = {
                "$or": [
                    {"$not": [{"$in": ["$channel", list(paid_channels_need_advertising)]}]},
                    {"$eq": ["$consent.advertising", True]},
                ]
            }
            touch = {"$and": [touch, paid_ok]}
        pipeline: list[Document] = [
            {"$match": match},
            {"$sort": {"profile_id": 1, "timestamp": 1, "_id": 1}},
            {
                "$group": {
                    "_id": "$profile_id",
                    "t": {
                        "$push": [
                            "$timestamp",
                            {"$cond": [touch, "$channel", None]},
                            "$campaign",
                            "$event",
                            is_conversion,
                            {"$ifNull": ["$properties.revenue", {"$ifNull": ["$properties.value", 0]}]},
                        ]
                    },
                }
            },
            *members_only(audience),
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=200)
        async for doc in cursor:
            yield doc["_id"], doc["t"]

    async def purchases(
        self, workspace_id: str, *, until: datetime | None
    ) -> AsyncIterator[tuple[str, list[tuple[datetime, float]]]]:
        """Per profile of the workspace, its orders (ACTION-phase events, revenue) and refunds
        (negative revenue), in one aggregation; a profile without any is left out."""
        match: Document = {"workspace_id": workspace_id, **_PURCHASES}
        if until is not None:
            match["timestamp"] = {"$lte": until}
        pipeline: list[Document] = [
            {"$match": match},
            {"$group": {"_id": "$profile_id", "p": {"$push": ["$timestamp", signed(REVENUE)]}}},
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=500)
        async for doc in cursor:
            yield doc["_id"], _finite_purchases(doc["p"])

    async def step_sequences(
        self,
        workspace_id: str,
        *,
        names: list[str],
        since: datetime | None,
        until: datetime | None,
        audience: Restriction | None = None,
    ) -> AsyncIterator[list[tuple[datetime, str]]]:
        """Per profile, its events among `names` in time order (grouped by aggregation)."""
        match: Document = {"workspace_id": workspace_id, "event": {"$in": names}}
        if window := _between(since, until):
            match["timestamp"] = window
        pipeline: list[Document] = [
            {"$match": match},
            {"$sort": {"profile_id": 1, "timestamp": 1}},
            {"$group": {"_id": "$profile_id", "e": {"$push": ["$timestamp", "$event"]}}},
            *members_only(audience),
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=500)
        async for doc in cursor:
            yield sorted((at, name) for at, name in doc["e"])

    async def activity(
        self, workspace_id: str, *, until: datetime | None
    ) -> AsyncIterator[tuple[str, list[tuple[datetime, str, str | None, float, str]]]]:
        """Per profile, its events that may be used for personalization: (timestamp, name, phase,
        value, channel), grouped by aggregation."""
        match: Document = {"workspace_id": workspace_id, "consent.personalization": True}
        if until is not None:
            match["timestamp"] = {"$lte": until}
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": "$profile_id",
                    "e": {"$push": ["$timestamp", "$event", "$phase", "$value", "$channel"]},
                }
            },
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=200)
        async for doc in cursor:
            yield (
                doc["_id"],
                [(at, name, phase, value, channel) for at, name, phase, value, channel in doc["e"]],
            )

    async def revenue_histogram(
        self,
        workspace_id: str,
        *,
        boundaries: list[float],
        since: datetime | None,
        until: datetime | None,
        audience: Restriction | None = None,
    ) -> dict[float | None, tuple[int, float]]:
        """Customers by net revenue in [since, until] (orders and refunds as `purchases` counts them;
        of them, the restriction's profiles, if given), binned by aggregation into (−∞, b₁), [b₁, b₂), …,
        [bₙ, ∞): lower boundary (None for the lowest) → (customers, revenue). Empty bins are absent."""
        match: Document = {"workspace_id": workspace_id, **_PURCHASES}
        if window := _between(since, until):
            match["timestamp"] = window
        pipeline: list[Document] = [
            {"$match": match},
            {"$project": {"profile_id": 1, "event": 1, "revenue": REVENUE}},
            # Only finite numbers count, as in `purchases` (older documents may hold others).
            {"$match": {"revenue": {"$type": "number", "$gt": float("-inf"), "$lt": float("inf")}}},
            {"$group": {"_id": "$profile_id", "revenue": {"$sum": signed("$revenue")}}},
            *members_only(audience),
            {
                "$bucket": {
                    "groupBy": "$revenue",
                    "boundaries": [float("-inf"), *boundaries, float("inf")],
                    "output": {"customers": {"$sum": 1}, "revenue": {"$sum": "$revenue"}},
                }
            },
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True)
        return {
            (None if doc["_id"] == float("-inf") else float(doc["_id"])): (
                doc["customers"],
                float(doc["revenue"]),
            )
            async for doc in cursor
        }

    async def journey_page(
        self, workspace_id: str, profile_id: str, *, first: int, after: tuple[datetime, str] | None
    ) -> list[StoredEvent]:
        """Oldest first; `after` is the (timestamp, id) of the last event of the previous page. Ids are
        opaque: stored ObjectIds and stored strings both page correctly (a query on one BSON type
        never matches the other, so the id condition is given in each type the id can have)."""
        query: Document = {"workspace_id": workspace_id, "profile_id": profile_id}
        if after is not None:
            at, last_id = after
            ties: list[Document] = [{"timestamp": at, "_id": {"$gt": last_id}}]
            if ObjectId.is_valid(last_id):
                ties.append({"timestamp": at, "_id": {"$gt": ObjectId(last_id)}})
            query["$or"] = [{"timestamp": {"$gt": at}}, *ties]
        cursor = self._collection.find(query, batch_size=first).sort([("timestamp", 1), ("_id", 1)])
        return [of_doc(doc) async for doc in cursor.limit(first)]

    async def activity_of(self, workspace_id: str, profile_ids: list[str]) -> dict[str, Activity]:
        """Each profile's events and purchases, for every per-profile field of a page (scores'
        explanations, conversion probability, LTV, audience conditions) at once: one grouping per
        chunk of ids. Time, consent and names are judged by the callers: the embedded database
        evaluates each extra filter condition slowly, while a page's events are few."""
        row = ["$timestamp", "$event", "$phase", "$value", "$channel", "$consent.personalization"]
        found: dict[str, Activity] = {}
        for chunk in chunks(sorted(set(profile_ids))):
            pipeline: list[Document] = [
                {"$match": {"workspace_id": workspace_id, "profile_id": {"$in": chunk}}},
                {"$group": {"_id": "$profile_id", "e": {"$push": row}, "p": {"$push": BOUGHT}}},
            ]
            cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=1000)
            async for doc in cursor:
                events = [
                    (
                        at,
                        name,
                        Phase[phase] if phase else None,
                        float(value or 0.0),
                        channel,
                        granted is True,
                    )
                    for at, name, phase, value, channel, granted in doc["e"]
                ]
                found[doc["_id"]] = Activity(
                    tuple(sorted(events, key=lambda e: e[0])),
                    tuple(sorted(_finite_purchases(doc["p"]), key=lambda p: p[0])),
                )
        return found
