"""The profiles collection. The document shape stays here; callers see domain Profiles."""

import dataclasses
import secrets
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.consent import PurposeState
from privacy.purposes import ConsentSource, Purpose
from server.domain.profile import Profile, Trait
from server.domain.scoring import EMPTY_STATE, DecayedSum, ScoreState
from server.domain.taxonomy import Phase
from server.storage.client import Database, Document, StreamPosition, find_in, watch
from server.storage.retention import EXPIRE_AT

_SCORE_TYPES = typing.get_type_hints(ScoreState)
# Read once (enum lookups and type introspection cost more than the rest of a profile's conversion).
_PURPOSES = {purpose.value: purpose for purpose in Purpose}
_SOURCES = {source.value: source for source in ConsentSource}
_PHASES = {phase.name: phase for phase in Phase}


def new_profile_id() -> str:
    return "prf_" + secrets.token_hex(12)


def _encode(value: Any) -> Any:
    if isinstance(value, DecayedSum):
        return {"total": value.total, "ref": value.ref}
    if isinstance(value, Phase):
        return value.name
    return value


def _decoder(hint: Any) -> Callable[[Any], Any]:
    if hint is DecayedSum or DecayedSum in typing.get_args(hint):
        return lambda v: None if v is None else DecayedSum(total=v["total"], ref=v["ref"])
    if hint is Phase or Phase in typing.get_args(hint):
        return lambda v: None if v is None else _PHASES[v]
    return lambda v: v


_SCORE_FIELDS = tuple(f.name for f in dataclasses.fields(ScoreState))
_SCORE_DECODERS = tuple((name, _decoder(_SCORE_TYPES[name])) for name in _SCORE_FIELDS)


def scores_doc(state: ScoreState) -> Document:
    return {name: _encode(getattr(state, name)) for name in _SCORE_FIELDS}


def scores_of(doc: Mapping[str, Any] | None) -> ScoreState:
    if not doc:
        return EMPTY_STATE
    return ScoreState(**{name: decode(doc.get(name)) for name, decode in _SCORE_DECODERS})


def to_doc(workspace_id: str, profile: Profile, expire_at: datetime | None) -> Document:
    return {
        "_id": profile.id,
        "workspace_id": workspace_id,
        "user_id": profile.user_id,
        "anonymous_ids": list(profile.anonymous_ids),
        "user_aliases": list(profile.user_aliases),
        "groups": list(profile.groups),
        "traits": {name: {"v": t.value, "at": t.at} for name, t in profile.traits.items()},
        "pii": {name: {"ct": Binary(ct), "at": at} for name, (ct, at) in profile.pii.items()},
        "blind_index": list(profile.blind_indexes),
        # StrEnum members are strings: stored as their values.
        "consent": {
            p: {"granted": s.granted, "source": s.source, "at": s.at} for p, s in profile.consent.items()
        },
        "consent_head": {"seq": profile.consent_head[0], "hash": profile.consent_head[1]},
        "scores": scores_doc(profile.scores),
        "affinities": {key: _encode(value) for key, value in profile.affinities.items()},
        "first_seen": profile.scores.first_seen,
        "last_seen": profile.scores.last_seen,
        "merged_into": profile.merged_into,
        "last_active": profile.last_active,
        EXPIRE_AT: expire_at,
    }


def of_doc(doc: Document) -> Profile:
    return Profile(
        id=doc["_id"],
        user_id=doc.get("user_id"),
        anonymous_ids=tuple(doc.get("anonymous_ids", ())),
        user_aliases=tuple(doc.get("user_aliases", ())),
        groups=tuple(doc.get("groups", ())),
        traits={name: Trait(t["v"], t["at"]) for name, t in doc.get("traits", {}).items()},
        pii={name: (bytes(p["ct"]), p["at"]) for name, p in doc.get("pii", {}).items()},
        blind_indexes=tuple(doc.get("blind_index", ())),
        consent={
            _PURPOSES[p]: PurposeState(granted=s["granted"], source=_SOURCES[s["source"]], at=s["at"])
            for p, s in doc.get("consent", {}).items()
        },
        consent_head=(
            doc.get("consent_head", {}).get("seq", 0),
            doc.get("consent_head", {}).get("hash", ""),
        ),
        scores=scores_of(doc.get("scores")),
        affinities={
            k: DecayedSum(total=v["total"], ref=v["ref"]) for k, v in doc.get("affinities", {}).items()
        },
        merged_into=doc.get("merged_into"),
        last_active=doc.get("last_active"),
    )


@dataclass(frozen=True)
class ProfileQuery:
    user_id: str | None = None
    anonymous_id: str | None = None
    blind_indexes: tuple[str, ...] = ()
    seen_after: datetime | None = None


class Profiles:
    def __init__(self, db: Database) -> None:
        self._collection = db["profiles"]

    async def get(
        self, workspace_id: str, profile_id: str, *, session: AsyncClientSession | None = None
    ) -> Profile | None:
        doc = await self._collection.find_one({"_id": profile_id}, session=session)
        return of_doc(doc) if doc and doc["workspace_id"] == workspace_id else None

    async def find_one(self, workspace_id: str, query: Document) -> Profile | None:
        doc = await self._collection.find_one({**query, "workspace_id": workspace_id})
        return of_doc(doc) if doc else None

    async def save_all(
        self,
        workspace_id: str,
        profiles: list[Profile],
        *,
        expire_at: Mapping[str, datetime | None],
        session: AsyncClientSession | None = None,
    ) -> None:
        """Write whole profiles, each with its expiry (by id) re-stamped in the same write. The filter
        is the `_id` alone (random, and read from or created in this workspace by the caller): the
        cheapest shape on every MongoDB, sharded ones included."""
        if profiles:
            await self._collection.bulk_write(
                [
                    ReplaceOne({"_id": p.id}, to_doc(workspace_id, p, expire_at.get(p.id)), upsert=True)
                    for p in profiles
                ],
                ordered=False,
                session=session,
            )

    async def page(
        self, workspace_id: str, query: ProfileQuery, *, first: int, after: str | None
    ) -> list[Profile]:
        conditions: Document = {"workspace_id": workspace_id, "merged_into": None}
        if query.user_id is not None:
            conditions["user_id"] = query.user_id
        if query.anonymous_id is not None:
            conditions["anonymous_ids"] = query.anonymous_id
        if query.blind_indexes:
            conditions["blind_index"] = {"$all": list(query.blind_indexes)}
        if query.seen_after is not None:
            conditions["last_seen"] = {"$gt": query.seen_after}
        if after is not None:
            conditions["_id"] = {"$gt": after}
        cursor = self._collection.find(conditions).sort("_id", 1).limit(first)
        return [of_doc(doc) async for doc in cursor]

    async def lineage(self, workspace_id: str, profile_id: str) -> list[str]:
        ids, frontier = [profile_id], [profile_id]
        while frontier:
            cursor = self._collection.find(
                {"workspace_id": workspace_id, "merged_into": {"$in": frontier}}, {"_id": 1}
            )
            frontier = [doc["_id"] async for doc in cursor if doc["_id"] not in ids]
            ids.extend(frontier)
        return ids

    async def with_blind_index(
        self, workspace_id: str, indexes: list[str], *, session: AsyncClientSession | None = None
    ) -> list[str]:
        """Ids of profiles (live or merged) holding any of these blind indexes (e-mail, phone)."""
        if not indexes:
            return []
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "blind_index": {"$in": indexes}}, {"_id": 1}, session=session
        )
        return [doc["_id"] async for doc in cursor]

    async def related(
        self, workspace_id: str, seeds: list[str], *, session: AsyncClientSession | None = None
    ) -> list[str]:
        """The seeds and every profile merged into or from them, transitively."""
        known: set[str] = set(seeds)
        frontier = list(seeds)
        while frontier:
            found: set[str] = set()
            for query in (
                {"_id": {"$in": frontier}},
                {"workspace_id": workspace_id, "merged_into": {"$in": frontier}},
            ):
                async for doc in self._collection.find(
                    query, {"_id": 1, "merged_into": 1, "workspace_id": 1}, session=session
                ):
                    if doc["workspace_id"] == workspace_id:
                        found.add(doc["_id"])
                        if doc.get("merged_into"):
                            found.add(doc["merged_into"])
            frontier = sorted(found - known)
            known |= found
        return sorted(known)

    async def of_ids(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> list[Profile]:
        """These profiles (live or merged) by `_id`, tenancy checked on what comes back."""
        found = find_in(self._collection, "_id", profile_ids, session=session)
        return [of_doc(doc) async for doc in found if doc["workspace_id"] == workspace_id]

    async def scored_before(self, workspace_id: str, cutoff: datetime) -> AsyncIterator[Profile]:
        """Live profiles whose oldest scored event is at or before `cutoff`, streamed."""
        cursor = self._collection.find(
            {"workspace_id": workspace_id, "merged_into": None, "first_seen": {"$lte": cutoff}},
            batch_size=200,
        )
        async for doc in cursor:
            yield of_doc(doc)

    async def live(self, workspace_id: str) -> AsyncIterator[Profile]:
        """Every live profile of the workspace, streamed in `_id` order (whole-workspace passes)."""
        cursor = self._collection.find({"workspace_id": workspace_id, "merged_into": None}, batch_size=500)
        async for doc in cursor.sort("_id", 1):
            yield of_doc(doc)

    async def workspace_ids(self) -> list[str]:
        return [str(w) for w in await self._collection.distinct("workspace_id")]

    async def existing(self, workspace_id: str, profile_ids: list[str]) -> set[str]:
        """Which of these profiles exist (live or merged). By `_id` alone, tenancy checked on what comes
        back: the embedded database answers `workspace_id` plus `_id: {$in}` from a workspace index,
        reading the whole workspace (3.4 s for an ingest unit's upkeep)."""
        found = find_in(self._collection, "_id", profile_ids, {"workspace_id": 1})
        return {doc["_id"] async for doc in found if doc["workspace_id"] == workspace_id}

    async def delete(
        self, workspace_id: str, profile_ids: list[str], *, session: AsyncClientSession | None = None
    ) -> int:
        result = await self._collection.delete_many(
            {"workspace_id": workspace_id, "_id": {"$in": profile_ids}}, session=session
        )
        return result.deleted_count

    async def changes(self, workspace_id: str, profile_id: str) -> AsyncIterator[Profile]:
        """The profile after every change to it, from a change stream (a replica set is needed)."""
        pipeline: list[Document] = [
            {"$match": {"documentKey._id": profile_id, "fullDocument.workspace_id": workspace_id}}
        ]
        async with await self._collection.watch(pipeline, full_document="updateLookup") as stream:
            async for change in stream:
                if change.get("fullDocument"):
                    yield of_doc(change["fullDocument"])

    async def every(self, *, with_pii: bool = False) -> AsyncIterator[tuple[str, Profile]]:
        """(workspace, profile) for every live profile of every workspace, streamed (migrations)."""
        query: Document = {"merged_into": None}
        if with_pii:
            query["pii"] = {"$ne": {}}
        async for doc in self._collection.find(query, batch_size=500):
            yield doc["workspace_id"], of_doc(doc)

    async def change_feed(
        self, opened: Callable[[], None], position: StreamPosition
    ) -> AsyncIterator[Profile]:
        """The profile after the change, for every change to any profile (see `watch`)."""
        pipeline: list[Document] = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        async for change in watch(self._collection, pipeline, opened, position, full_document="updateLookup"):
            doc = change.get("fullDocument")
            if doc:
                yield of_doc(doc)

    async def phase_groups(
        self,
        workspace_id: str,
        *,
        recent_since: datetime,
        active_from: datetime | None,
        active_to: datetime | None,
    ) -> list[tuple[Profile, int]]:
        """Live profiles (scored activity overlapping [active_from, active_to], when given) grouped by
        aggregation on every stored field their shown phase depends on: the personalization decision,
        the latest journey's phase and closed flag, and whether its last event is missing, before
        `recent_since` or at/after it. Per group: one member (id, consent and scores only) and the
        number of profiles like it; the member stands for them all."""
        match: Document = {"workspace_id": workspace_id, "merged_into": None}
        if active_from is not None:
            match["last_seen"] = {"$gte": active_from}
        if active_to is not None:
            match["first_seen"] = {"$lte": active_to}
        last = "$scores.journey_last_at"
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": {
                        "personalization": "$consent.personalization.granted",
                        "phase": "$scores.journey_phase",
                        "closed": "$scores.journey_closed",
                        "recent": {
                            "$cond": [
                                {"$eq": [{"$ifNull": [last, None]}, None]},
                                None,
                                {"$gte": [last, recent_since]},
                            ]
                        },
                    },
                    "member": {"$first": {"_id": "$_id", "consent": "$consent", "scores": "$scores"}},
                    "profiles": {"$sum": 1},
                }
            },
        ]
        cursor = await self._collection.aggregate(pipeline)
        return [(of_doc(group["member"]), group["profiles"]) async for group in cursor]
