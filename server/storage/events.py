"""The events collection: one document per accepted message, unique per (workspace, messageId)."""

import math
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.event import StoredEvent
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


# What an order is worth, and which events are orders or refunds (LTV and its distribution agree).
_REVENUE: Document = {"$ifNull": ["$properties.revenue", {"$ifNull": ["$properties.value", 0]}]}
_PURCHASES: Document = {"$or": [{"phase": "ACTION"}, {"event": "order_refunded"}]}


def _signed(revenue: object) -> Document:
    """A refund's revenue counts against the customer."""
    return {"$cond": [{"$eq": ["$event", "order_refunded"]}, {"$multiply": [-1, {"$abs": revenue}]}, revenue]}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


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
        self, workspace_id: str, *, until: datetime | None, profile_ids: list[str] | None = None
    ) -> AsyncIterator[tuple[str, list[tuple[datetime, float]]]]:
        """Per profile (all, or these), its orders (ACTION-phase events, revenue) and refunds
        (negative revenue), in one aggregation; a profile without any is left out."""
        match: Document = {"workspace_id": workspace_id, **_PURCHASES}
        if until is not None:
            match["timestamp"] = {"$lte": until}
        # Some profiles: their ids first, in a stage of its own (the embedded database evaluates the
        # `$or` of purchases 2.4× faster after the index has narrowed the documents; MongoDB merges
        # the two stages).
        narrowed: list[list[Document]] = (
            [[{"$match": {"profile_id": {"$in": chunk}}}] for chunk in chunks(profile_ids)]
            if profile_ids is not None
            else [[]]
        )
        for first in narrowed:
            pipeline: list[Document] = [
                *first,
                {"$match": match},
                {"$group": {"_id": "$profile_id", "p": {"$push": ["$timestamp", _signed(_REVENUE)]}}},
            ]
            cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=500)
            async for doc in cursor:
                finite = [(at, value) for at, value in doc["p"] if _finite(value)]
                if len(finite) < len(doc["p"]):
                    # Stored before non-finite numbers were refused at ingest: skipped, and counted.
                    SKIPPED_PURCHASES.inc(len(doc["p"]) - len(finite))
                yield doc["_id"], finite

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
            {"$project": {"profile_id": 1, "event": 1, "revenue": _REVENUE}},
            # Only finite numbers count, as in `purchases` (older documents may hold others).
            {"$match": {"revenue": {"$type": "number", "$gt": float("-inf"), "$lt": float("inf")}}},
            {"$group": {"_id": "$profile_id", "revenue": {"$sum": _signed("$revenue")}}},
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

    async def personalization_events(
        self, workspace_id: str, profile_ids: list[str], *, since: datetime
    ) -> list[tuple[str, datetime, str, float, Phase | None]]:
        """Per event of these profiles at or after `since` whose consent snapshot granted
        personalization: (profile id, timestamp, name, value, phase), oldest first, from one query.
        Time and consent are checked here, not in the filter: the embedded database evaluates
        each extra condition slowly, while the events of a page of profiles are few."""
        rows = []
        for chunk in chunks(profile_ids):
            cursor = self._collection.find(
                {"workspace_id": workspace_id, "profile_id": {"$in": chunk}},
                {
                    "profile_id": 1,
                    "timestamp": 1,
                    "event": 1,
                    "value": 1,
                    "phase": 1,
                    "consent.personalization": 1,
                },
                batch_size=1000,
            )
            rows += [
                (
                    doc["profile_id"],
                    doc["timestamp"],
                    doc["event"],
                    doc["value"],
                    Phase[doc["phase"]] if doc.get("phase") else None,
                )
                async for doc in cursor
                if doc["timestamp"] >= since and doc.get("consent", {}).get("personalization")
            ]
        return sorted(rows, key=lambda row: row[1])

    async def activity_of(
        self, workspace_id: str, profile_ids: list[str], *, until: datetime | None
    ) -> AsyncIterator[tuple[str, list[tuple[datetime, str, str | None, float, str]]]]:
        """`activity` of these profiles in one aggregation (what `activity` with a `profile_id` did
        one profile at a time); a profile without any event usable for personalization is left out.
        Consent and time are checked after the grouping, which the embedded database does much
        faster than extra filter conditions."""
        row = ["$timestamp", "$event", "$phase", "$value", "$channel", "$consent.personalization"]
        for chunk in chunks(profile_ids):
            pipeline: list[Document] = [
                {"$match": {"workspace_id": workspace_id, "profile_id": {"$in": chunk}}},
                {"$group": {"_id": "$profile_id", "e": {"$push": row}}},
            ]
            cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=1000)
            async for doc in cursor:
                events = [
                    (at, name, phase, value, channel)
                    for at, name, phase, value, channel, granted in doc["e"]
                    if granted is True and (until is None or at <= until)
                ]
                if events:
                    yield doc["_id"], events

    async def times_of(
        self, workspace_id: str, profile_ids: list[str], names: set[str], *, since: datetime
    ) -> dict[str, dict[str, list[datetime]]]:
        """Per profile and event name (of `names`), the times of its events at or after `since` whose
        consent snapshot granted personalization, from one query on the profile index (name, time and
        consent are checked here: the embedded database evaluates extra filter conditions slowly)."""
        found: dict[str, dict[str, list[datetime]]] = {}
        if not profile_ids or not names:
            return found
        for chunk in chunks(profile_ids):
            cursor = self._collection.find(
                {"workspace_id": workspace_id, "profile_id": {"$in": chunk}},
                {"profile_id": 1, "event": 1, "timestamp": 1, "consent.personalization": 1},
                batch_size=1000,
            )
            async for doc in cursor:
                if (
                    doc["event"] in names
                    and doc["timestamp"] >= since
                    and doc.get("consent", {}).get("personalization")
                ):
                    found.setdefault(doc["profile_id"], {}).setdefault(doc["event"], []).append(
                        doc["timestamp"]
                    )
        return found
