from datetime import timedelta
from typing import TypeAlias

import strawberry

from privacy.purposes import ConsentMode as DomainConsentMode
from server.domain.workspace import WorkspaceSettings as DomainSettings

ConsentMode: TypeAlias = DomainConsentMode
strawberry.enum(DomainConsentMode, name="ConsentMode", description="OPT_IN (GDPR) or OPT_OUT (CCPA).")


@strawberry.type(description="How this workspace collects, scores and reports.")
class WorkspaceSettings:
    consent_mode: ConsentMode
    half_life_days: float
    ingest_may_merge_identified: bool
    min_report_profiles: int
    pii_traits: list[str]
    own_hosts: list[str]
    paid_touches_need_advertising: bool
    allowed_origins: list[str] = strawberry.field(
        description="Browser origins (scheme://host[:port]) allowed to call with customer tokens."
    )
    max_identifiers: int = strawberry.field(
        description="Anonymous ids plus merged user ids one profile may hold (1–1000); more is refused."
    )
    phone_region: str | None = strawberry.field(
        description="ISO 3166 region for phone numbers written without a country code (e.g. GB)."
    )

    @classmethod
    def of(cls, s: DomainSettings) -> "WorkspaceSettings":
        return cls(
            consent_mode=s.consent_mode,
            half_life_days=s.half_life / timedelta(days=1),
            ingest_may_merge_identified=s.ingest_may_merge_identified,
            min_report_profiles=s.min_report_profiles,
            pii_traits=sorted(s.pii_traits),
            own_hosts=sorted(s.own_hosts),
            paid_touches_need_advertising=s.paid_touches_need_advertising,
            allowed_origins=sorted(s.allowed_origins),
            max_identifiers=s.max_identifiers,
            phone_region=s.phone_region,
        )


@strawberry.input(description="Settings to change; omitted fields keep their value.")
class WorkspaceSettingsInput:
    consent_mode: ConsentMode | None = None
    half_life_days: float | None = None
    ingest_may_merge_identified: bool | None = None
    min_report_profiles: int | None = None
    pii_traits: list[str] | None = None
    own_hosts: list[str] | None = None
    paid_touches_need_advertising: bool | None = None
    allowed_origins: list[str] | None = None
    max_identifiers: int | None = None
    phone_region: str | None = None

    def changes(self) -> dict[str, object]:
        return {
            "consent_mode": self.consent_mode,
            "half_life": timedelta(days=self.half_life_days) if self.half_life_days is not None else None,
            "ingest_may_merge_identified": self.ingest_may_merge_identified,
            "min_report_profiles": self.min_report_profiles,
            "pii_traits": frozenset(self.pii_traits) if self.pii_traits is not None else None,
            "own_hosts": frozenset(h.lower() for h in self.own_hosts) if self.own_hosts is not None else None,
            "paid_touches_need_advertising": self.paid_touches_need_advertising,
            "allowed_origins": (
                frozenset(o.lower().rstrip("/") for o in self.allowed_origins)
                if self.allowed_origins is not None
                else None
            ),
            "max_identifiers": self.max_identifiers,
            "phone_region": self.phone_region.upper() if self.phone_region is not None else None,
        }
