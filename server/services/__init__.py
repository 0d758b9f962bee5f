"""Use cases. `Services` is what the API layers receive: one instance per process."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from privacy.crypto import Keyring
from server.services.analytics import AnalyticsService
from server.services.audit import AuditService
from server.services.consent import ConsentService
from server.services.customer_tokens import CustomerTokenService
from server.services.customers import CustomerService
from server.services.distributions import DistributionService
from server.services.dsr import DsrService, Stores
from server.services.ingest import IngestService
from server.services.keys import KeyService
from server.services.ltv import LtvService
from server.services.models import ModelService
from server.services.profiles import ProfileService
from server.services.propensity import PropensityService
from server.services.retention import RetentionService, RetentionStores
from server.services.taxonomy import TaxonomyService
from server.services.triggers import TriggerService
from server.services.vault import Vault
from server.services.workspaces import WorkspaceService
from server.storage.api_keys import ApiKeys
from server.storage.audit_log import AuditLog
from server.storage.client import Database
from server.storage.consent_ledger import ConsentLedger
from server.storage.data_keys import DataKeys
from server.storage.dsr_requests import DsrRequests
from server.storage.events import Events
from server.storage.merges import Merges
from server.storage.model_fits import ModelFits
from server.storage.profiles import Profiles
from server.storage.retention import RetentionStore
from server.storage.suppressions import Suppressions
from server.storage.taxonomy import TaxonomyStore
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    db: Database
    keyring: Keyring
    audit: AuditService
    keys: KeyService
    taxonomy: TaxonomyService
    ingest: IngestService
    profiles: ProfileService
    consent: ConsentService
    dsr: DsrService
    analytics: AnalyticsService
    ltv: LtvService
    propensity: PropensityService
    models: ModelService
    workspaces: WorkspaceService
    triggers: TriggerService
    retention: RetentionService
    customer_tokens: CustomerTokenService
    customers: CustomerService
    distributions: DistributionService

    @classmethod
    def build(cls, db: Database, keyring: Keyring, clock: Callable[[], datetime] = utc_now) -> "Services":
        audit_log = AuditLog(db)
        profiles, events, merges, workspaces = Profiles(db), Events(db), Merges(db), Workspaces(db)
        audit = AuditService(audit_log, workspaces, clock)
        taxonomy = TaxonomyService(TaxonomyStore(db))
        ledger, data_keys, suppressions = ConsentLedger(db), DataKeys(db), Suppressions(db)
        vault = Vault(data_keys, keyring)
        ingest = IngestService(
            db.client,
            profiles=profiles,
            events=events,
            ledger=ledger,
            suppressions=suppressions,
            merges=merges,
            workspaces=workspaces,
            taxonomy=taxonomy,
            vault=vault,
            clock=clock,
        )
        stores = Stores(
            requests=DsrRequests(db),
            profiles=profiles,
            events=events,
            ledger=ledger,
            merges=merges,
            data_keys=data_keys,
            suppressions=suppressions,
            audit_log=audit_log,
        )
        fits = ModelFits(db)
        ltv = LtvService(events, fits, audit, clock)
        propensity = PropensityService(events, fits, workspaces, clock)
        profile_service = ProfileService(profiles, events, merges, workspaces, vault, audit, clock)
        consent = ConsentService(ledger)
        dsr = DsrService(
            stores,
            vault=vault,
            keyring=keyring,
            audit=audit,
            ingest=ingest,
            workspaces=workspaces,
            clock=clock,
        )
        triggers = TriggerService(Triggers(db), workspaces, clock)
        workspace_service = WorkspaceService(workspaces, audit)
        return cls(
            db=db,
            keyring=keyring,
            audit=audit,
            keys=KeyService(ApiKeys(db), audit, keyring, clock),
            taxonomy=taxonomy,
            ingest=ingest,
            profiles=profile_service,
            consent=consent,
            dsr=dsr,
            analytics=AnalyticsService(events, workspaces, clock),
            ltv=ltv,
            propensity=propensity,
            models=ModelService(ltv, propensity),
            workspaces=workspace_service,
            triggers=triggers,
            retention=RetentionService(
                db.client,
                RetentionStores(RetentionStore(db), profiles, events, data_keys, workspaces),
                audit,
                clock,
            ),
            customer_tokens=CustomerTokenService(workspaces, keyring, audit, clock),
            customers=CustomerService(
                profiles=profile_service,
                consent=consent,
                ingest=ingest,
                dsr=dsr,
                triggers=triggers,
                workspaces=workspace_service,
                clock=clock,
            ),
            distributions=DistributionService(profiles, events, workspaces, clock),
        )

    async def ping(self) -> None:
        await self.db.command("ping")
