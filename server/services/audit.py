"""The audit trail: every DSR action, PII read, key change and denied call, append-only."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from server.domain.access import Principal
from server.storage.audit_log import AuditEntry, AuditLog


class AuditService:
    def __init__(self, log: AuditLog, clock: Callable[[], datetime]) -> None:
        self._log = log
        self._clock = clock

    async def record(
        self,
        principal: Principal,
        action: str,
        *,
        profile_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._log.append(
            workspace_id=principal.workspace_id,
            actor=principal.key_id,
            action=action,
            at=self._clock(),
            profile_id=profile_id,
            details=details,
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
    ) -> list[AuditEntry]:
        return await self._log.page(
            principal.workspace_id, profile_id=profile_id, action=action, first=first, after=after
        )
