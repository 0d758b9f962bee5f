"""The schema: root types merged from one class per area or mutation, and every request limit."""

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import (
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

from server.graphql.errors import error_codes
from server.graphql.mutations.create_api_key import CreateApiKey
from server.graphql.mutations.define_event import DefineEvent
from server.graphql.mutations.identify import Identify
from server.graphql.mutations.opt_out import OptOut
from server.graphql.mutations.request_erasure import RequestErasure
from server.graphql.mutations.request_export import RequestExport
from server.graphql.mutations.revoke_api_key import RevokeApiKey
from server.graphql.mutations.set_consent import SetConsent
from server.graphql.mutations.track_events import TrackEvents
from server.graphql.operation_metrics import OperationMetrics
from server.graphql.queries.api_keys import ApiKeyQueries
from server.graphql.queries.compliance import ComplianceQueries
from server.graphql.queries.profiles import ProfileQueries
from server.graphql.queries.taxonomy import TaxonomyQueries

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000

QUERY_AREAS: tuple[type, ...] = (ProfileQueries, TaxonomyQueries, ComplianceQueries, ApiKeyQueries)
MUTATIONS: tuple[type, ...] = (
    TrackEvents,
    Identify,
    SetConsent,
    DefineEvent,
    RequestErasure,
    RequestExport,
    OptOut,
    CreateApiKey,
    RevokeApiKey,
)

Query = merge_types("Query", QUERY_AREAS)
Mutation = merge_types("Mutation", MUTATIONS)


def build_schema(*, production: bool) -> strawberry.Schema:
    """The schema with its limits; production also drops introspection and name suggestions."""
    # Factories, never shared instances: extensions hold per-request state.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        error_codes(hide_suggestions=production),
        OperationMetrics,
    ]
    if production:
        extensions.append(DisableIntrospection)
    config: Any = StrawberryConfig(auto_camel_case=True)
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions, config=config)


def sdl() -> str:
    """The schema as SDL, exactly as committed in schema.graphql."""
    return build_schema(production=False).as_str() + "\n"
