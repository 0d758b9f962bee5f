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
    # When on, a paid touch (paid_search, paid_social, affiliate) earns attribution credit only if
    # its consent snapshot also granted advertising (CCPA "sale/share" of the click data).
    paid_touches_need_advertising: bool = False


PAID_CHANNELS = ("paid_search", "paid_social", "affiliate")


def validate(settings: WorkspaceSettings) -> list[tuple[str, str]]:
    """(field, code) for every setting outside its bounds."""
    problems = []
    if not timedelta(hours=1) <= settings.half_life <= timedelta(days=365):
        problems.append(("halfLifeDays", "OUT_OF_RANGE"))
    if not 1 <= settings.min_report_profiles <= 1000:
        problems.append(("minReportProfiles", "OUT_OF_RANGE"))
    if len(settings.pii_traits) > 100 or len(settings.own_hosts) > 100:
        problems.append(("piiTraits" if len(settings.pii_traits) > 100 else "ownHosts", "TOO_MANY_ITEMS"))
    return problems
