"""Retention: a period per data kind (changing one re-stamps what is stored), the report compliance
staff show for storage limitation, and the sweep that keeps what is derived from expired data in step.

The database's TTL monitor deletes documents once their `expireAt` has passed; the sweep does what a
deletion alone cannot: profiles whose scores counted events that have now expired are recomputed
from the events that remain, and data keys whose profile expired are deleted (crypto-shredding the
traits in any backup of that profile).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.access import Principal
from server.domain.errors import InvalidInput
from server.domain.rescoring import rescored
from server.domain.retention import (
    MAX_DAYS,
    MIN_DAYS,
    REPORT_HORIZON,
    DataKind,
    age_days,
    days_of,
    expiry_cutoff,
    in_bounds,
    period,
    profile_expiry,
    with_days,
)
from server.domain.workspace import WorkspaceSettings
from server.services.audit import AuditService
from server.services.background import gave_up
from server.storage.client import Client
from server.storage.data_keys import DataKeys
from server.storage.events import Events
from server.storage.profiles import Profiles
from server.storage.retention import RESTAMP_BATCH, RetentionStore, collection_of
from server.storage.workspaces import Workspaces

logger = logging.getLogger("granular.retention")

_KEY_PAGE = 1000


@dataclass(frozen=True)
class RetentionChange:
    kind: DataKind
    days: int
    restamped: int  # documents given the new expiry
    batches: int  # update commands it took


@dataclass(frozen=True)
class RetentionRow:
    kind: DataKind
    collection: str
    days: int
    documents: int
    expiring: int  # within REPORT_HORIZON
    oldest_age_days: int | None


@dataclass(frozen=True)
class SweepResult:
    rescored: int  # profiles recomputed because events they counted had expired
    keys_shredded: int  # data keys of profiles that no longer exist


@dataclass(frozen=True)
class RetentionStores:
    retention: RetentionStore
    profiles: Profiles
    events: Events
    data_keys: DataKeys
    workspaces: Workspaces


class RetentionService:
    def __init__(
        self, client: Client, stores: RetentionStores, audit: AuditService, clock: Callable[[], datetime]
    ) -> None:
        self._client = client
        self._s = stores
        self._audit = audit
        self._clock = clock

    async def set_days(
        self, principal: Principal, kind: DataKind, days: int, *, batch_size: int = RESTAMP_BATCH
    ) -> RetentionChange:
        """Keep `kind` for `days` from now on and re-stamp every stored document of that kind (also
        when the value is unchanged, so a re-stamp that stopped half-way can be finished)."""
        if not in_bounds(days):
            raise InvalidInput(f"`days` must be {MIN_DAYS} to {MAX_DAYS}.", field="days", code="OUT_OF_RANGE")
        ws = principal.workspace_id
        current = await self._s.workspaces.get(ws)
        # Saved first: what is written from now on gets the new period; the re-stamp covers the past.
        await self._s.workspaces.save(replace(current, retention=with_days(current.retention, kind, days)))
        restamped = await self._s.retention.restamp(ws, kind, timedelta(days=days), batch_size=batch_size)
        await self._audit.record(
            principal,
            "retention.changed",
            details={"kind": kind.value, "days": days, "restamped": restamped.documents},
        )
        return RetentionChange(kind, days, restamped.documents, restamped.batches)

    async def report(self, principal: Principal) -> list[RetentionRow]:
        """Per retained collection: its period, size, what expires within 30 days, the oldest age."""
        now = self._clock()
        workspace = await self._s.workspaces.get(principal.workspace_id)
        rows = []
        for kind in DataKind:
            census = await self._s.retention.census(principal.workspace_id, kind, until=now + REPORT_HORIZON)
            rows.append(
                RetentionRow(
                    kind=kind,
                    collection=collection_of(kind),
                    days=days_of(workspace.retention, kind),
                    documents=census.documents,
                    expiring=census.expiring,
                    oldest_age_days=age_days(census.oldest, now),
                )
            )
        return rows

    async def sweep(self, now: datetime) -> SweepResult:
        """One pass over every workspace as of `now`: events with expireAt ≤ now count as gone
        whether or not the TTL monitor has deleted them yet."""
        rescored_count = shredded = 0
        workspace_ids = {*await self._s.profiles.workspace_ids(), *await self._s.data_keys.workspace_ids()}
        for workspace_id in sorted(workspace_ids):
            workspace = await self._s.workspaces.get(workspace_id)
            # first_seen is the oldest event a profile's scores counted: at or before the cutoff, an
            # event behind them has expired, and only such profiles are visited.
            cutoff = expiry_cutoff(now, period(workspace.retention, DataKind.EVENTS))
            async for profile in self._s.profiles.scored_before(workspace_id, cutoff):
                try:
                    await self._rescore(workspace, profile.id, now)
                    rescored_count += 1
                except Exception as error:  # one profile that cannot be rescored must not stop the rest
                    gave_up("retention", error)
            try:
                shredded += await self._shred_orphan_keys(workspace_id)
            except Exception as error:  # nor one workspace's keys the others'
                gave_up("retention", error)
        return SweepResult(rescored_count, shredded)

    async def _rescore(self, workspace: WorkspaceSettings, profile_id: str, now: datetime) -> None:
        ws = workspace.id

        async def once(session: AsyncClientSession) -> None:
            # In a transaction: an ingest batch writing this profile meanwhile conflicts and retries,
            # so neither overwrites the other's scores.
            profile = await self._s.profiles.get(ws, profile_id, session=session)
            if profile is None or profile.merged_into is not None:
                return
            events = [e async for e in self._s.events.of_profile(ws, profile_id, session=session)]
            updated = rescored(profile, events, workspace, now)
            expiry = {updated.id: profile_expiry(updated.last_active, workspace.retention)}
            await self._s.profiles.save_all(ws, [updated], expire_at=expiry, session=session)

        async with self._client.start_session() as session:
            await session.with_transaction(once)

    async def _shred_orphan_keys(self, workspace_id: str) -> int:
        """Delete the data keys of profiles that no longer exist. Nothing else reads a key without its
        profile: opening traits, exports and merges all start from the profile document."""
        shredded = 0
        after: str | None = None
        while ids := await self._s.data_keys.profile_ids(workspace_id, after=after, limit=_KEY_PAGE):
            existing = await self._s.profiles.existing(workspace_id, ids)
            orphans = [profile_id for profile_id in ids if profile_id not in existing]
            if orphans:
                shredded += await self._s.data_keys.delete(workspace_id, orphans)
            after = ids[-1]
        return shredded

    async def run_forever(self, interval: float) -> None:
        """The background sweep of the server process; a failed pass is logged, counted and retried
        (the supervisor restarts this loop should it end anyway)."""
        while True:
            try:
                result = await self.sweep(self._clock())
                if result.rescored or result.keys_shredded:
                    logger.info(
                        "retention sweep: %d profiles rescored, %d data keys shredded",
                        result.rescored,
                        result.keys_shredded,
                    )
            except Exception as error:  # the next pass may well succeed
                gave_up("retention", error)
            await asyncio.sleep(interval)
