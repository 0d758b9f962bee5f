"""The audit trail: every DSR action, PII read, key change and denied call, append-only."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cachetools import TTLCache

from server.domain.access import Principal
from server.domain.paging import Page, page_of, page_request
from server.domain.retention import DataKind, expires_at, period
from server.storage.audit_log import AuditEntry, AuditLog
from server.storage.workspaces import Workspaces

# Denied calls are recorded once per key, operation and minute, with a count: a client hammering a
# field it may not use cannot flood the trail. Per process (N processes write up to N entries).
_DENIALS_REMEMBERED = 10_000


class AuditService:
    def __init__(self, log: AuditLog, workspaces: Workspaces, clock: Callable[[], datetime]) -> None:
        self._log = log
        self._workspaces = workspaces
        self._clock = clock
        self._denials: TTLCache[tuple[str, str, str, int], str] = TTLCache(
            maxsize=_DENIALS_REMEMBERED, ttl=120
        )

    async def record(
        self,
        principal: Principal,
        action: str,
        *,
        profile_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self.record_as(
            principal.workspace_id, principal.key_id, action, profile_id=profile_id, details=details
        )

    async def record_as(
        self,
        workspace_id: str,
        actor: str,
        action: str,
        *,
        profile_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """An entry by an actor that is not a request's principal (a download link, the CLI); its id."""
        now = self._clock()
        workspace = await self._workspaces.get(workspace_id)
        return await self._log.append(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            at=now,
            expire_at=expires_at(now, period(workspace.retention, DataKind.AUDIT_LOG)),
            profile_id=profile_id,
            details=details,
        )

    async def record_many(
        self, principal: Principal, action: str, entries: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> None:
        """One entry per (profile id, details), written in one command."""
        if not entries:
            return
        now = self._clock()
        workspace = await self._workspaces.get(principal.workspace_id)
        await self._log.append_many(
            workspace_id=principal.workspace_id,
            actor=principal.key_id,
            action=action,
            at=now,
            expire_at=expires_at(now, period(workspace.retention, DataKind.AUDIT_LOG)),
            entries=entries,
        )

    async def denied(self, principal: Principal, operation: str) -> None:
        """`access.denied`, one entry per key, operation and minute; `details.count` says how often."""
        minute = int(self._clock().timestamp() // 60)
        key = (principal.workspace_id, principal.key_id, operation, minute)
        entry = self._denials.get(key)
        if entry is not None and await self._log.count_again(principal.workspace_id, entry):
            return
        self._denials[key] = await self.record_as(
            principal.workspace_id,
            principal.key_id,
            "access.denied",
            details={"operation": operation, "role": principal.role.value, "count": 1},
        )

    async def page(
        self,
        principal: Principal,
        *,
        profile_id: str | None,
        action: str | None,
        first: int,
        after: str | None,
    ) -> Page[AuditEntry]:
        """The trail, newest first."""
        request = page_request(first, after)
        entries = await self._log.page(
            principal.workspace_id,
            profile_id=profile_id,
            action=action,
            first=request.fetch,
            after=request.after_id,
        )
        return page_of(entries, request, lambda e: (e.id,))
