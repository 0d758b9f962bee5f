"""Read-only aggregations over the events collection for the early-driver reports: what each profile
did in its first moments, grouped inside MongoDB so Python sees one compact row per profile."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.storage.audiences import Restriction, members_only
from server.storage.client import Database, Document
from server.storage.events import BOUGHT


@dataclass(frozen=True)
class EarlyActivity:
    """One profile's start: its first event, the first time each event name was seen (with its phase)
    within `window` of it, and the net revenue of its purchases after that window."""

    profile_id: str
    first_seen: datetime
    firsts: dict[str, tuple[str | None, datetime]]  # name → (phase, first time within the window)
    first_purchase: datetime | None  # the first ACTION-phase event within the window
    value_after: float  # orders minus refunds from the end of the window on


class EarlyActivities:
    def __init__(self, db: Database) -> None:
        self._collection = db["events"]

    async def starts(
        self,
        workspace_id: str,
        *,
        window: timedelta,
        since: datetime | None,
        until: datetime | None,
        audience: Restriction | None = None,
    ) -> AsyncIterator[EarlyActivity]:
        """Profiles first seen in [since, until], counting only events collected under analytics
        consent (a profile without it appears in no analytics output)."""
        first_seen: Document = {}
        if since is not None:
            first_seen["$gte"] = since
        if until is not None:
            first_seen["$lte"] = until
        # Two plain groupings instead of a window over each profile's events (25x slower on the
        # embedded database): each name's first time and the purchases, then per profile; whether a
        # first time falls inside the window, and which purchases come after it, is decided here.
        pipeline: list[Document] = [
            {"$match": {"workspace_id": workspace_id, "consent.analytics": True}},
            {
                "$group": {
                    "_id": {"p": "$profile_id", "e": "$event"},
                    "at": {"$min": "$timestamp"},
                    "phase": {"$first": "$phase"},
                    "bought": {"$push": BOUGHT},
                }
            },
            {
                "$group": {
                    "_id": "$_id.p",
                    "first": {"$min": "$at"},
                    "e": {"$push": ["$_id.e", "$phase", "$at"]},
                    "bought": {"$push": "$bought"},
                }
            },
            *([{"$match": {"first": first_seen}}] if first_seen else []),
            *members_only(audience),
        ]
        cursor = await self._collection.aggregate(pipeline, allowDiskUse=True, batchSize=500)
        async for doc in cursor:
            end = doc["first"] + window
            firsts = {name: (phase, at) for name, phase, at in doc["e"] if at < end}
            purchases = [at for phase, at in firsts.values() if phase == "ACTION"]
            after = sum(
                value
                for bought in doc["bought"]
                for at, value in bought
                if at >= end and isinstance(value, int | float)  # as $sum, which skips non-numbers
            )
            yield EarlyActivity(doc["_id"], doc["first"], firsts, min(purchases, default=None), after)
