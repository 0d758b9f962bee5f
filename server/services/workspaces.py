"""A workspace's settings: read by every use case, changed by ADMIN keys (audited)."""

from dataclasses import replace
from typing import Any

from server.domain.access import Principal
from server.domain.errors import InvalidInput
from server.domain.workspace import WorkspaceSettings, validate
from server.services.audit import AuditService
from server.storage.workspaces import Workspaces


class WorkspaceService:
    def __init__(self, workspaces: Workspaces, audit: AuditService) -> None:
        self._workspaces = workspaces
        self._audit = audit

    async def get(self, principal: Principal) -> WorkspaceSettings:
        return await self._workspaces.get(principal.workspace_id)

    async def update(self, principal: Principal, changes: dict[str, Any]) -> WorkspaceSettings:
        """Apply the given changes (None = keep); refuse the whole change if any value is out of bounds."""
        current = await self._workspaces.get(principal.workspace_id)
        updated = replace(current, **{k: v for k, v in changes.items() if v is not None})
        problems = validate(updated)
        if problems:
            field, code = problems[0]
            raise InvalidInput(f"`{field}` is out of bounds.", field=field, code=code)
        await self._workspaces.save(updated)
        await self._audit.record(
            principal,
            "workspace.updated",
            details={"fields": sorted(k for k, v in changes.items() if v is not None)},
        )
        return updated
