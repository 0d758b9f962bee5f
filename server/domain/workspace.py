"""Per-workspace settings that shape consent, scoring and reporting."""

from dataclasses import dataclass, field
from datetime import timedelta

from privacy.purposes import ConsentMode

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class WorkspaceSettings:
    id: str
    consent_mode: ConsentMode = ConsentMode.OPT_IN
    half_life: timedelta = timedelta(days=7)
    # Merging two identified profiles is a server-side decision unless the workspace allows it.
    ingest_may_merge_identified: bool = False
    min_report_profiles: int = 1
    pii_traits: frozenset[str] = field(default_factory=frozenset)
    own_hosts: frozenset[str] = field(default_factory=frozenset)
