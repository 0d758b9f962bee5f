"""A workspace's taxonomy: the shipped default extended or replaced by its own definitions."""

import time
from collections.abc import Mapping
from datetime import datetime

from server.domain.access import Principal
from server.domain.errors import InvalidInput
from server.domain.paging import page_size
from server.domain.taxonomy import (
    DEFAULT_TAXONOMY,
    PHASE_RANGES,
    EventDefinition,
    validate_definition,
    with_overrides,
)
from server.storage.taxonomy import TaxonomyStore

# Several API processes may serve one workspace: a definition saved elsewhere is seen within this.
_CACHE_SECONDS = 5.0

_RANGES = ", ".join(
    f"{phase.name} {low}" + ("" if low == high else f"–{high}") for phase, (low, high) in PHASE_RANGES.items()
)
# What each rule of validate_definition allows, said to the caller who broke it.
_ALLOWED = {
    "INVALID_EVENT_NAME": "`name` takes 1 to 64 characters: a lower-case letter, then lower-case "
    "letters, digits or underscores.",
    "VALUE_OUT_OF_PHASE_RANGE": f"`value` must lie in its phase's range ({_RANGES}).",
    "VALUE_OUT_OF_RANGE": "`value` must be from 0 to 1 for an event without a phase.",
    "INVALID_PROPERTY_NAME": "`allowedProperties` takes names of 1 to 64 letters, digits or "
    "underscores, not starting with a digit.",
    "PROPERTY_NOT_ALLOWED": "The property a value table reads must be one of `allowedProperties`.",
    "INVALID_VALUE_TABLE": "A value table needs at least one entry and unique keys.",
}


class TaxonomyService:
    def __init__(self, store: TaxonomyStore) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, dict[str, EventDefinition]]] = {}

    async def definitions(self, workspace_id: str) -> Mapping[str, EventDefinition]:
        cached = self._cache.get(workspace_id)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        merged = with_overrides(DEFAULT_TAXONOMY, await self._store.overrides(workspace_id))
        self._cache[workspace_id] = (time.monotonic(), merged)
        return merged

    async def define(self, principal: Principal, definition: EventDefinition) -> EventDefinition:
        problems = validate_definition(definition)
        if problems:
            field, code = problems[0]
            raise InvalidInput(_ALLOWED[code], field=field, code=code)
        await self._store.save(principal.workspace_id, definition)
        self._cache.pop(principal.workspace_id, None)
        return definition

    async def count_unplanned(self, workspace_id: str, counts: dict[str, int], at: datetime) -> None:
        if counts:
            await self._store.count_unplanned(workspace_id, counts, at)

    async def unplanned(self, workspace_id: str, first: int) -> list[tuple[str, int, datetime]]:
        """The most frequent unplanned event names (1 to MAX_PAGE of them)."""
        return await self._store.unplanned(workspace_id, page_size(first))
