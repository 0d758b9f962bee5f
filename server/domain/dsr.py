"""A data-subject request as the product tracks it: what was asked, for whom, its progress and result."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from privacy.erasure import DsrKind, DsrStatus, Regulation


@dataclass(frozen=True)
class DsrRecord:
    id: str
    kind: DsrKind
    regulation: Regulation
    status: DsrStatus
    received_at: datetime
    deadline: datetime
    completed_at: datetime | None
    requested_by: str
    subject_hashes: tuple[str, ...]
    profile_ids: tuple[str, ...]
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    export_digest: str | None = None
    export_expires_at: datetime | None = None
