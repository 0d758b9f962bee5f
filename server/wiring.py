"""The composition root: every store and service built once per process, wired together. `Services` is
what the API layers receive; importing one service module loads only what that service needs."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from privacy.crypto import Keyring
from server.domain.ingest import TransactionScope
from server.services.analytics import AnalyticsService
from server.services.audiences import AudienceService
from server.services.audit import AuditService
from server.services.capacity import DEFAULT_IN_FLIGHT, Capacity
from server.services.change_feed import DEFAULT_SUBSCRIPTIONS_PER_KEY, ChangeFeed, SubscriptionQuota
from server.services.channels import ChannelService
from server.services.consent import ConsentService
from server.services.customer_tokens import CustomerTokenService
from server.services.customers import CustomerService
from server.services.distributions import DistributionService
from server.services.drivers import DriverService
from server.services.dsr import DsrService, Stores
from server.services.ingest import IngestService
from server.services.ingest_unit import IngestStores
from server.services.ingest_writer import IngestWriter
from server.services.keys import KeyService
from server.services.ltv import LtvService
from server.services.migrations import MigrationService
from server.services.models import ModelService
from server.services.profiles import ProfileService
from server.services.propensity import PropensityService
from server.services.retention import RetentionService, RetentionStores
from server.services.taxonomy import TaxonomyService
from server.services.triggers import TriggerService
from server.services.vault import Vault
from server.services.workspaces import WorkspaceService
from server.storage.api_keys import ApiKeys
from server.storage.audiences import Audiences
from server.storage.audit_log import AuditLog
from server.storage.client import Database
from server.storage.consent_ledger import ConsentLedger
from server.storage.custom_channels import CustomChannels
from server.storage.data_keys import DataKeys
from server.storage.dsr_requests import DsrRequests
from server.storage.early_activity import EarlyActivities
from server.storage.events import Events
from server.storage.groups import Groups
from server.storage.identities import Identities
from server.storage.ledger_chains import LedgerChains
from server.storage.merges import Merges
from server.storage.migrations import Migrations
from server.storage.model_fits import ModelFits
from server.storage.profiles import Profiles
from server.storage.receipts import Receipts
from server.storage.retention import RetentionStore
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
    drivers: DriverService
    migrations: MigrationService
    channels: ChannelService
    # The process's admission limit: the HTTP routes hold a place per request (server/http/admission.py);
    # other work that loads the database (e.g. an ingest writer) holds one with `capacity.admit(kind)`.
    capacity: Capacity
    distributions: DistributionService
    audiences: AudienceService

    @classmethod
    def build(
        cls,
        db: Database,
        keyring: Keyring,
        clock: Callable[[], datetime] = utc_now,
        capacity: Capacity | None = None,
        subscriptions_per_key: int = DEFAULT_SUBSCRIPTIONS_PER_KEY,
        transaction_scope: TransactionScope = TransactionScope.BATCH,
    ) -> "Services":
        audit_log = AuditLog(db)
        profiles, events, merges, workspaces = Profiles(db), Events(db), Merges(db), Workspaces(db)
        audit = AuditService(audit_log, workspaces, clock)
        taxonomy = TaxonomyService(TaxonomyStore(db))
        ledger, data_keys, identities = ConsentLedger(db), DataKeys(db), Identities(db)
        receipts, triggers_store = Receipts(db), Triggers(db)
        vault = Vault(data_keys, keyring)
        channels, groups = ChannelService(CustomChannels(db)), Groups(db)
        fits = ModelFits(db)
        ltv = LtvService(events, fits, audit, clock)
        propensity = PropensityService(events, fits, workspaces, clock)
        quota = SubscriptionQuota(subscriptions_per_key)
        feed = ChangeFeed(
            "profile_feed",
            profiles.change_feed,
            quota,
            subject=lambda profile: profile.id,
            item=lambda profile: profile.id,
        )
        profile_service = ProfileService(
            profiles, events, merges, workspaces, vault, audit, clock, identities, feed, groups
        )
        audience_store = Audiences(db)
        audience_feed = ChangeFeed(
            "audience_feed",
            audience_store.change_feed,
            quota,
            subject=lambda change: change.audience_id,
            item=lambda change: change.profile_id,
        )
        audiences = AudienceService(
            audience_store,
            profiles,
            events,
            workspaces,
            ltv,
            propensity,
            profile_service,
            triggers_store,
            audience_feed,
            clock,
        )
        writer = IngestWriter(
            db.client,
            IngestStores(
                profiles=profiles,
                events=events,
                receipts=receipts,
                identities=identities,
                ledger=ledger,
                merges=merges,
                data_keys=data_keys,
                groups=groups,
                channels=channels,
            ),
            vault,
            clock=clock,
            committed=taxonomy.count_unplanned,
            changed=audiences.after_ingest,
            scope=transaction_scope,
        )
        ingest = IngestService(
            writer,
            profiles=profiles,
            identities=identities,
            workspaces=workspaces,
            taxonomy=taxonomy,
            vault=vault,
            clock=clock,
        )
        stores = Stores(
            requests=DsrRequests(db),
            profiles=profiles,
            events=events,
            receipts=receipts,
            ledger=ledger,
            merges=merges,
            data_keys=data_keys,
            identities=identities,
            deliveries=triggers_store,
            audit_log=audit_log,
            audiences=audience_store,
        )
        consent = ConsentService(ledger, LedgerChains(db))
        dsr = DsrService(
            db.client,
            stores,
            vault=vault,
            keyring=keyring,
            audit=audit,
            ingest=ingest,
            workspaces=workspaces,
            clock=clock,
        )
        triggers = TriggerService(triggers_store, workspaces, clock)
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
            analytics=AnalyticsService(events, workspaces, clock, audience_store),
            ltv=ltv,
            propensity=propensity,
            models=ModelService(ltv, propensity, fitted=audiences.after_fit),
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
            drivers=DriverService(EarlyActivities(db), audience_store, clock),
            migrations=MigrationService(Migrations(db), profiles, identities, workspaces, vault, clock),
            channels=channels,
            capacity=capacity or Capacity(DEFAULT_IN_FLIGHT),
            distributions=DistributionService(profiles, events, workspaces, audience_store, clock),
            audiences=audiences,
        )

    async def ping(self) -> None:
        await self.db.command("ping")
