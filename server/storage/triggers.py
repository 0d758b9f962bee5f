"""The triggers and deliveries collections: rules, and each webhook they owe (unique per journey)."""

import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from server.domain.profile import Profile
from server.domain.taxonomy import Phase
from server.domain.triggers import Delivery, Trigger
from server.storage.client import Database, Document
from server.storage.profiles import of_doc


def _trigger(doc: Document) -> Trigger:
    return Trigger(
        id=doc["_id"],
        name=doc["name"],
        action=doc["action"],
        reached=Phase[doc["reached"]],
        within=timedelta(minutes=doc["within_minutes"]),
        url=doc["url"],
        # Rules stored before `since` existed count from their definition.
        since=doc.get("since") or doc.get("created_at"),
    )


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        workspace_id=doc["workspace_id"],
        trigger_id=doc["trigger_id"],
        profile_id=doc["profile_id"],
        status=doc["status"],
        attempts=doc["attempts"],
        last_status=doc.get("last_status"),
        created_at=doc["created_at"],
        next_attempt_at=doc.get("next_attempt_at"),
        body=doc["body"],
    )


def _fields(trigger: Trigger) -> Document:
    return {
        "name": trigger.name,
        "action": trigger.action,
        "reached": trigger.reached.name,
        "within_minutes": trigger.within / timedelta(minutes=1),
        "url": trigger.url,
        "since": trigger.since,
    }


class Triggers:
    def __init__(self, db: Database) -> None:
        self._triggers = db["triggers"]
        self._deliveries = db["deliveries"]
        self._profiles = db["profiles"]
        self._audiences = db["audiences"]

    async def insert(self, workspace_id: str, trigger: Trigger, secret: str, now: datetime) -> Trigger:
        doc = {
            "_id": "trg_" + secrets.token_hex(8),
            "workspace_id": workspace_id,
            **_fields(trigger),
            "secret": secret,
            "created_at": now,
        }
        await self._triggers.insert_one(doc)
        return _trigger(doc)

    async def get(self, workspace_id: str, trigger_id: str) -> Trigger | None:
        doc = await self._triggers.find_one({"_id": trigger_id, "workspace_id": workspace_id})
        return _trigger(doc) if doc else None

    async def replace(self, workspace_id: str, trigger: Trigger) -> bool:
        """Store the rule's new fields (its id, secret and creation time stay); False if it is gone."""
        result = await self._triggers.update_one(
            {"_id": trigger.id, "workspace_id": workspace_id}, {"$set": _fields(trigger)}
        )
        return result.matched_count == 1

    async def delete(self, workspace_id: str, trigger_id: str, now: datetime) -> bool:
        """Remove the rule; webhooks it still owed are cancelled. False if there was no such rule."""
        result = await self._triggers.delete_one({"_id": trigger_id, "workspace_id": workspace_id})
        if result.deleted_count == 0:
            return False
        await self._deliveries.update_many(
            {"workspace_id": workspace_id, "trigger_id": trigger_id, "status": "PENDING"},
            {"$set": {"status": "CANCELLED", "last_status": "trigger deleted", "last_attempt_at": now}},
        )
        return True

    async def of_workspace(self, workspace_id: str) -> list[Trigger]:
        return [
            _trigger(doc)
            async for doc in self._triggers.find({"workspace_id": workspace_id}).sort("created_at", 1)
        ]

    async def everywhere(self) -> list[tuple[str, Trigger]]:
        """Every workspace's triggers: the background evaluator serves them all."""
        return [(doc["workspace_id"], _trigger(doc)) async for doc in self._triggers.find({})]

    async def endpoint(self, workspace_id: str, source_id: str) -> tuple[str, str] | None:
        """(url, signing secret) of what owes a delivery: a trigger, or an audience with a webhook;
        None when it is gone (or has no webhook any more)."""
        for collection in (self._triggers, self._audiences):
            doc = await collection.find_one(
                {"_id": source_id}, {"workspace_id": 1, "url": 1, "webhook_url": 1, "secret": 1}
            )
            if doc is not None and doc["workspace_id"] == workspace_id:
                url = doc.get("url") or doc.get("webhook_url")
                return (url, doc["secret"]) if url else None
        return None

    async def owe_many(
        self, workspace_id: str, source_id: str, owed: list[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> None:
        """Deliveries owed by a source other than a trigger (an audience's entries and exits):
        (delivery id, profile id, body) each, one write; the delivery loop sends them like any other."""
        if not owed:
            return
        await self._deliveries.insert_many(
            [
                {
                    "_id": delivery_id,
                    "workspace_id": workspace_id,
                    "trigger_id": source_id,
                    "profile_id": profile_id,
                    "body": body,
                    "status": "PENDING",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "last_status": None,
                }
                for delivery_id, profile_id, body in owed
            ],
            ordered=False,
        )

    async def candidates(self, workspace_id: str, trigger: Trigger, now: datetime) -> list[Profile]:
        """Live profiles whose open journey reached the phase, was active since the rule's `since` and
        has been quiet long enough."""
        phases = [p.name for p in Phase if trigger.reached <= p < Phase.ACTION]
        last_at: Document = {"$lte": now - trigger.within}
        if trigger.since is not None:
            last_at["$gte"] = trigger.since
        cursor = self._profiles.find(
            {
                "workspace_id": workspace_id,
                "merged_into": None,
                "scores.journey_closed": False,
                "scores.journey_phase": {"$in": phases},
                "scores.journey_last_at": last_at,
            }
        ).limit(10_000)
        return [of_doc(doc) async for doc in cursor]

    async def owe(
        self,
        workspace_id: str,
        trigger: Trigger,
        profile_id: str,
        journey: str,
        body: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Record a delivery owed; False when this journey already had one (once per journey)."""
        try:
            await self._deliveries.insert_one(
                {
                    "_id": f"{trigger.id}:{profile_id}:{journey}",
                    "workspace_id": workspace_id,
                    "trigger_id": trigger.id,
                    "profile_id": profile_id,
                    "body": body,
                    "status": "PENDING",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "last_status": None,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def due_deliveries(self, now: datetime, limit: int = 200) -> list[Delivery]:
        cursor = self._deliveries.find({"status": "PENDING", "next_attempt_at": {"$lte": now}}).limit(limit)
        return [_delivery(doc) async for doc in cursor]

    async def attempted(
        self,
        delivery_id: str,
        *,
        status: str,
        last_status: str,
        at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """One more attempt, its outcome, and (unless it gave up without trying) when it was made and
        when the next is due."""
        changes: Document = {"status": status, "last_status": last_status}
        if at is not None:
            changes |= {"last_attempt_at": at, "next_attempt_at": next_attempt_at}
        await self._deliveries.update_one({"_id": delivery_id}, {"$set": changes, "$inc": {"attempts": 1}})

    async def deliveries(self, workspace_id: str, trigger_id: str | None, first: int) -> list[Delivery]:
        query: Document = {"workspace_id": workspace_id}
        if trigger_id:
            query["trigger_id"] = trigger_id
        cursor = self._deliveries.find(query).sort("created_at", -1).limit(first)
        return [_delivery(doc) async for doc in cursor]

    async def forget_profiles(self, workspace_id: str, pseudonyms: dict[str, str]) -> int:
        """Deliveries about erased profiles: pending ones cancelled, every one kept in the log under the
        profile's pseudonym (its id, which named the profile, is re-keyed)."""
        if not pseudonyms:
            return 0
        cursor = self._deliveries.find(
            {"workspace_id": workspace_id, "profile_id": {"$in": sorted(pseudonyms)}}
        )
        found = [doc async for doc in cursor]
        if not found:
            return 0
        copies = []
        for doc in found:
            pseudonym = pseudonyms[doc["profile_id"]]
            copies.append(
                {
                    **doc,
                    "_id": doc["_id"].replace(doc["profile_id"], pseudonym),
                    "profile_id": pseudonym,
                    "body": {**doc["body"], "profileId": pseudonym},
                    "status": "CANCELLED" if doc["status"] == "PENDING" else doc["status"],
                }
            )
        await self._deliveries.delete_many({"_id": {"$in": [doc["_id"] for doc in found]}})
        await self._deliveries.insert_many(copies, ordered=False)
        return len(found)
