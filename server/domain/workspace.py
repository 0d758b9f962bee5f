"""Per-workspace settings that shape consent, scoring and reporting."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from privacy.classification import is_region
from privacy.purposes import ConsentMode
from server.domain.retention import Retention

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
    # Browser origins (scheme://host[:port]) whose pages may call the API with this workspace's
    # customer tokens or INGEST keys.
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    # Days kept per data kind, only the kinds the workspace chose (the rest keep DEFAULT_DAYS).
    retention: Retention = field(default_factory=lambda: MappingProxyType({}))
    # Anonymous ids (devices, cookies) plus merged user ids one profile may hold; a message that would
    # add more is refused (TOO_MANY_IDENTIFIERS), so no profile can grow without bound.
    max_identifiers: int = 100
    # ISO 3166 region of phone numbers written without a country code ("020 7946 0958" in "GB").
    phone_region: str | None = None


# An exact browser origin: no wildcard, path or credentials, so "*" can never be configured.
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")


def is_origin(value: str) -> bool:
    """An exact lower-case browser origin, scheme://host[:port]: no wildcard, path, or anything that
    could add a directive where origins are written into a header."""
    return _ORIGIN.fullmatch(value) is not None


# The largest identifier cap a workspace may choose: a profile at the cap stays far below 16 MB.
MAX_IDENTIFIERS = 1000

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
    if not 1 <= settings.max_identifiers <= MAX_IDENTIFIERS:
        problems.append(("maxIdentifiers", "OUT_OF_RANGE"))
    if settings.phone_region is not None and not is_region(settings.phone_region):
        problems.append(("phoneRegion", "INVALID_REGION"))
    if len(settings.allowed_origins) > 100:
        problems.append(("allowedOrigins", "TOO_MANY_ITEMS"))
    elif not all(is_origin(origin) for origin in settings.allowed_origins):
        problems.append(("allowedOrigins", "INVALID_ORIGIN"))
    return problems
