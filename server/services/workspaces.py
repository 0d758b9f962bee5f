"""A workspace's settings: read by every use case, changed by ADMIN keys (audited)."""

import contextlib
from dataclasses import replace
from typing import Any

from pymongo.errors import PyMongoError

from server.domain.access import Principal
from server.domain.errors import InvalidInput
from server.domain.workspace import WorkspaceSettings, validate
from server.services.audit import AuditService
from server.storage.workspaces import Workspaces


class WorkspaceService:
    def __init__(self, workspaces: Workspaces, audit: AuditService) -> None:
        self._workspaces = workspaces
        self._audit = audit
        self._known_origins: frozenset[str] = frozenset()

    async def get(self, principal: Principal) -> WorkspaceSettings:
        return await self._workspaces.get(principal.workspace_id)

    async def allowed_origins(self) -> frozenset[str]:
        """Every workspace's allowed browser origins together (what a CORS preflight may be told, and
        who may embed the preference center); on a database fault, the last ones known, so that a
        request that does not need the database is not refused for it."""
        with contextlib.suppress(PyMongoError):
            self._known_origins = await self._workspaces.allowed_origins()
        return self._known_origins

    async def update(self, principal: Principal, changes: dict[str, Any]) -> WorkspaceSettings:
        """Apply the given changes (None = keep); refuse the whole change if any value is out of bounds."""
        current = await self._workspaces.get(principal.workspace_id)
        updated = replace(current, **{k: v for k, v in changes.items() if v is not None})
        problems = validate(updated)
        if problems:
            field, code, allowed = problems[0]
            raise InvalidInput(f"`{field}` takes {allowed}.", field=field, code=code)
        await self._workspaces.save(updated)
        await self._audit.record(
            principal,
            "workspace.updated",
            details={"fields": sorted(k for k, v in changes.items() if v is not None)},
        )
        return updated
