"""The audit trail: every DSR action, PII read, key change and denied call, append-only."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from server.domain.access import Principal
from server.domain.paging import Page, page_of, page_request
from server.domain.retention import DataKind, expires_at, period
from server.storage.audit_log import AuditEntry, AuditLog
from server.storage.workspaces import Workspaces


class AuditService:
    def __init__(self, log: AuditLog, workspaces: Workspaces, clock: Callable[[], datetime]) -> None:
        self._log = log
        self._workspaces = workspaces
        self._clock = clock

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
    ) -> None:
        """An entry by an actor that is not a request's principal (a download link, the CLI)."""
        await self._append(workspace_id, actor, action, [(profile_id, details or {})])

    async def record_many(
        self, principal: Principal, action: str, entries: list[tuple[str | None, dict[str, Any]]]
    ) -> None:
        """One entry per (profile id, details), written in one command."""
        if entries:
            await self._append(principal.workspace_id, principal.key_id, action, entries)

    async def _append(
        self, workspace_id: str, actor: str, action: str, entries: list[tuple[str | None, dict[str, Any]]]
    ) -> None:
        now = self._clock()
        workspace = await self._workspaces.get(workspace_id)
        await self._log.append(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            at=now,
            expire_at=expires_at(now, period(workspace.retention, DataKind.AUDIT_LOG)),
            entries=entries,
        )

    async def denied(self, principal: Principal, operation: str) -> None:
        await self.record(
            principal,
            "access.denied",
            details={"operation": operation, "role": principal.role.value},
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
