"""Consent as proof: the ledger replayed to any past moment, and its hash chains checked."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from privacy.consent import BreakReason, ConsentEntry, PurposeState, chain_break, state_at
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.storage.consent_ledger import ConsentLedger
from server.storage.ledger_chains import LedgerChains

_BATCH = 200  # chains read per query while verifying a whole workspace


@dataclass(frozen=True)
class BrokenEntry:
    profile_id: str
    seq: int | None  # the stored sequence number (None: the entry could not be read back)
    index: int  # its position in the chain as verified (0 = oldest remaining)
    reason: BreakReason


@dataclass(frozen=True)
class LedgerVerification:
    chains: int
    entries: int
    broken_chains: int
    broken: BrokenEntry | None  # the first broken entry (chains in profile id order); None: all intact

    @property
    def intact(self) -> bool:
        return self.broken is None


class ConsentService:
    def __init__(self, ledger: ConsentLedger, chains: LedgerChains) -> None:
        self._ledger = ledger
        self._chains = chains

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
        """Every chain of these profiles verifies (no entry altered, removed or reordered)."""
        return (await self.verify(principal, profile_ids)).intact

    async def verify(self, principal: Principal, profile_ids: list[str]) -> LedgerVerification:
        """Each chain of these profiles checked from its oldest remaining entry (the entries before it
        expired under the ledger's retention): how many are broken, and the first broken entry."""
        entries = await self._ledger.history(principal.workspace_id, profile_ids)
        chains = [list(chain) for _, chain in groupby(entries, key=lambda e: e.profile_id)]
        breaks = [(chain[0].profile_id, b) for chain in chains if (b := chain_break(chain, truncated=True))]
        first = None
        if breaks:
            profile_id, broken = breaks[0]
            seq = await self._chains.seq_at(principal.workspace_id, profile_id, broken.index)
            first = BrokenEntry(profile_id, seq, broken.index, broken.reason)
        return LedgerVerification(len(chains), len(entries), len(breaks), first)

    async def verify_all(
        self, principal: Principal, progress: Callable[[int, int], None] = lambda done, total: None
    ) -> LedgerVerification:
        """Every chain of the workspace, read `_BATCH` profiles at a time; `progress(done, total)` is
        told the chains checked so far after each read."""
        total = await self._chains.count(principal.workspace_id)
        chains = entries = broken_chains = 0
        first: BrokenEntry | None = None
        progress(0, total)
        async for ids in self._chains.profile_ids(principal.workspace_id, batch=_BATCH):
            found = await self.verify(principal, ids)
            chains, entries = chains + found.chains, entries + found.entries
            broken_chains += found.broken_chains
            first = first or found.broken
            progress(chains, total)
        return LedgerVerification(chains, entries, broken_chains, first)
