"""GraphQL enums, registered from the domain's own enums so the names cannot drift."""

from typing import TypeAlias

import strawberry

from privacy.purposes import ConsentSource as DomainConsentSource
from privacy.purposes import Purpose as DomainPurpose
from server.domain.access import Role as DomainRole
from server.domain.taxonomy import Phase as DomainPhase

Role: TypeAlias = DomainRole
strawberry.enum(
    DomainRole,
    name="Role",
    description="What an API key may do; CUSTOMER marks fields for customer tokens (never a key's role).",
)

Purpose: TypeAlias = DomainPurpose
strawberry.enum(DomainPurpose, name="Purpose", description="Why data may be processed.")
ConsentSource: TypeAlias = DomainConsentSource
strawberry.enum(DomainConsentSource, name="ConsentSource", description="Where a consent decision came from.")
Phase: TypeAlias = DomainPhase
strawberry.enum(DomainPhase, name="Phase", description="How far a journey has come.")
