"""The schema: root types merged from one class per area or mutation, and every request limit."""

import logging
import traceback
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from server.domain.errors import GranularError
from server.graphql.errors import error_codes
from server.graphql.mutations.create_api_key import CreateApiKey
from server.graphql.mutations.create_customer_token import CreateCustomerToken
from server.graphql.mutations.define_audience import DefineAudience
from server.graphql.mutations.define_event import DefineEvent
from server.graphql.mutations.define_trigger import DefineTrigger
from server.graphql.mutations.delete_audience import DeleteAudience
from server.graphql.mutations.delete_trigger import DeleteTrigger
from server.graphql.mutations.fit_models import FitModels
from server.graphql.mutations.identify import Identify
from server.graphql.mutations.opt_out import OptOut
from server.graphql.mutations.request_erasure import RequestErasure
from server.graphql.mutations.request_export import RequestExport
from server.graphql.mutations.request_my_erasure import RequestMyErasure
from server.graphql.mutations.request_my_export import RequestMyExport
from server.graphql.mutations.revoke_api_key import RevokeApiKey
from server.graphql.mutations.rotate_customer_token_key import RotateCustomerTokenKey
from server.graphql.mutations.set_consent import SetConsent
from server.graphql.mutations.set_my_consent import SetMyConsent
from server.graphql.mutations.set_retention import SetRetention
from server.graphql.mutations.track_events import TrackEvents
from server.graphql.mutations.update_audience import UpdateAudience
from server.graphql.mutations.update_trigger import UpdateTrigger
from server.graphql.mutations.update_workspace_settings import UpdateWorkspaceSettings
from server.graphql.operation_metrics import OperationMetrics
from server.graphql.queries.api_keys import ApiKeyQueries
from server.graphql.queries.attribution import AttributionQueries
from server.graphql.queries.audiences import AudienceQueries
from server.graphql.queries.channels import ChannelQueries
from server.graphql.queries.compliance import ComplianceQueries
from server.graphql.queries.consent_ledger import ConsentLedgerQueries
from server.graphql.queries.distributions import DistributionQueries
from server.graphql.queries.funnel import FunnelQueries
from server.graphql.queries.ltv import LtvQueries
from server.graphql.queries.me import MeQueries
from server.graphql.queries.profiles import ProfileQueries
from server.graphql.queries.retention import RetentionQueries
from server.graphql.queries.taxonomy import TaxonomyQueries
from server.graphql.queries.triggers import TriggerQueries
from server.graphql.queries.workspace import WorkspaceQueries
from server.graphql.rate_limit import RateLimit
from server.graphql.subscriptions.audience_changes import AudienceChangesSubscription
from server.graphql.subscriptions.profile_scores import ProfileScoresSubscription

logger = logging.getLogger("granular.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000

QUERY_AREAS: tuple[type, ...] = (
    ProfileQueries,
    AttributionQueries,
    FunnelQueries,
    LtvQueries,
    TaxonomyQueries,
    ComplianceQueries,
    ApiKeyQueries,
    WorkspaceQueries,
    TriggerQueries,
    MeQueries,
    RetentionQueries,
    ConsentLedgerQueries,
    DistributionQueries,
    ChannelQueries,
    AudienceQueries,
)
MUTATIONS: tuple[type, ...] = (
    TrackEvents,
    Identify,
    SetConsent,
    DefineEvent,
    DefineTrigger,
    UpdateTrigger,
    DeleteTrigger,
    FitModels,
    RequestErasure,
    RequestExport,
    OptOut,
    CreateApiKey,
    RevokeApiKey,
    UpdateWorkspaceSettings,
    SetRetention,
    CreateCustomerToken,
    RotateCustomerTokenKey,
    SetMyConsent,
    RequestMyExport,
    RequestMyErasure,
    DefineAudience,
    UpdateAudience,
    DeleteAudience,
)

Query = merge_types("Query", QUERY_AREAS)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", (ProfileScoresSubscription, AudienceChangesSubscription))


def _codes(error: BaseException) -> str:
    """Server error codes only (never messages, which may echo values)."""
    details = getattr(error, "details", None) or {}
    codes = [e.get("code") for e in details.get("writeErrors", [])] if isinstance(details, dict) else []
    code = getattr(error, "code", None)
    found = sorted({c for c in [*codes, code] if c is not None})
    return f" (codes {found})" if found else ""


class GranularSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log what failed and where, never the message: it may echo a value a caller sent."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GranularError | GraphQLError):
                continue  # expected: the caller gets a coded error, the log needs nothing
            logger.error(
                "unexpected %s%s at %s\n%s",
                type(original).__name__,
                _codes(original),
                ".".join(map(str, error.path or ())) or "-",
                "".join(traceback.format_tb(original.__traceback__)),
            )


Extension = Callable[[], SchemaExtension] | type[SchemaExtension]


# The rule classes are built once: each limiter instance would otherwise make a new class per
# request, and ValidationCache (keyed by the rules) would never hit.
_LIMIT_RULES = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


def limits() -> list[Extension]:
    """Document limits, checked before any resolver runs (introspection fields do not count toward
    depth, so GraphiQL works in development; production turns introspection off)."""
    # Factories, never shared instances: extensions hold per-request state.
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(list(_LIMIT_RULES)),
    ]


def build_schema(*, production: bool) -> strawberry.Schema:
    """The schema with its limits; production also drops introspection and name suggestions."""
    extensions: list[Extension] = [
        *limits(),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        error_codes(hide_suggestions=production),
        OperationMetrics,
        RateLimit,
    ]
    if production:
        extensions.append(DisableIntrospection)
    config: Any = StrawberryConfig(auto_camel_case=True)
    return GranularSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions, config=config
    )


def sdl() -> str:
    """The schema as SDL, exactly as committed in schema.graphql."""
    return build_schema(production=False).as_str() + "\n"
