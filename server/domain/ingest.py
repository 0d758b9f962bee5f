"""What happened to each message of a batch: the answer every ingest route gives its caller."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rejection:
    index: int
    code: str
    message: str
    field: str | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    suppressed: int = 0
    dropped_no_consent: int = 0
    expired: int = 0  # already past its retention period when it arrived: not stored
    unplanned: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    profile_ids: list[str] = field(default_factory=list)  # per accepted message, in order

    def add(self, other: "IngestResult") -> None:
        """Count another part of the same batch into this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.suppressed += other.suppressed
        self.dropped_no_consent += other.dropped_no_consent
        self.expired += other.expired
        self.unplanned += other.unplanned
        self.rejected.extend(other.rejected)
        self.profile_ids.extend(other.profile_ids)
