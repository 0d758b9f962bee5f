from typing import TypeAlias

import strawberry

from privacy.consent import BreakReason as DomainBreakReason
from server.services.consent import LedgerVerification as Verification

BreakReason: TypeAlias = DomainBreakReason
strawberry.enum(
    DomainBreakReason,
    name="LedgerBreakReason",
    description="Why an entry breaks its hash chain: its `prevHash` is not the hash of the entry before it "
    "(one was removed, altered or moved), it names another profile, its time is not as stored (UTC "
    "milliseconds), or its content no longer hashes to its `hash` (it was altered).",
)


@strawberry.type(description="The first entry that breaks a consent ledger chain.")
class LedgerBreak:
    profile_id: strawberry.ID = strawberry.field(description="The profile whose chain it is in.")
    seq: int | None = strawberry.field(description="The entry's stored sequence number.")
    index: int = strawberry.field(description="Its position in the chain, 0 being the oldest kept.")
    reason: BreakReason


@strawberry.type(description="The consent ledger's hash chains checked entry by entry.")
class LedgerVerification:
    intact: bool
    chains: int
    entries: int
    broken_chains: int
    first_broken: LedgerBreak | None

    @classmethod
    def of(cls, found: Verification) -> "LedgerVerification":
        broken = found.broken
        return cls(
            intact=found.intact,
            chains=found.chains,
            entries=found.entries,
            broken_chains=found.broken_chains,
            first_broken=LedgerBreak(
                profile_id=strawberry.ID(broken.profile_id),
                seq=broken.seq,
                index=broken.index,
                reason=broken.reason,
            )
            if broken
            else None,
        )
