"""Consent as proof: the ledger replayed to any past moment, and its hash chains checked."""

from datetime import datetime
from itertools import groupby

from privacy.consent import ConsentEntry, PurposeState, state_at, verify_chain
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.storage.consent_ledger import ConsentLedger


class ConsentService:
    def __init__(self, ledger: ConsentLedger) -> None:
        self._ledger = ledger

    async def at(
        self, principal: Principal, profile_ids: list[str], purpose: Purpose, at: datetime
    ) -> PurposeState | None:
        """What the customer had decided for `purpose` at `at` (None: nothing yet).

        A merged customer's decisions live in each original profile's chain; the latest decision
        made before `at` in any of them is the answer, as the merge itself is recorded as one."""
        entries = await self._ledger.history(principal.workspace_id, profile_ids)
        decided = [
            state[purpose]
            for _, chain in groupby(entries, key=lambda e: e.profile_id)
            if purpose in (state := state_at(list(chain), at))
        ]
        return max(decided, key=lambda s: s.at) if decided else None

    async def history(self, principal: Principal, profile_ids: list[str]) -> list[ConsentEntry]:
        """Every decision recorded for these profiles, oldest first."""
        entries = await self._ledger.history(principal.workspace_id, profile_ids)
        return sorted(entries, key=lambda e: e.at)

    async def intact(self, principal: Principal, profile_ids: list[str]) -> bool:
        """Every chain of these profiles verifies (no entry altered, removed or reordered), from its
        oldest remaining entry: the entries before it expired under the ledger's retention."""
        entries = await self._ledger.history(principal.workspace_id, profile_ids)
        return all(
            verify_chain(list(chain), truncated=True) is None
            for _, chain in groupby(entries, key=lambda e: e.profile_id)
        )
