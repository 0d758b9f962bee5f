"""The write path: validate → prepare (minimize, value, channel) → [unit of work: suppression →
identity → consent → encryption → store → score] → report.

Everything that does not depend on stored state runs here, in the caller's request, before the
message reaches the process's one writer (`ingest_writer.py`); the unit of work (`ingest_unit.py`)
decides only what depends on state, inside one transaction that also re-checks suppression on every
attempt.
"""

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from privacy.classification import IdentifierKind
from privacy.consent import Decision, decisions_from_context
from server.domain.access import Principal
from server.domain.errors import InvalidInput, PayloadTooLarge
from server.domain.ingest import IngestResult, Rejection
from server.domain.message import IDENTITY_TYPES, Message, behaviour, event_name
from server.domain.profile import MAX_TRAIT_BYTES, MAX_TRAITS, Profile
from server.domain.taxonomy import EventDefinition
from server.domain.workspace import WorkspaceSettings
from server.metrics import EVENTS_INGESTED
from server.services.event_payload import MAX_BATCH_EVENTS, MAX_FUTURE, event_time, message_id, parse
from server.services.ingest_unit import Submission
from server.services.ingest_writer import IngestWriter
from server.services.taxonomy import TaxonomyService
from server.services.vault import Vault
from server.storage.identities import Identities
from server.storage.profiles import Profiles
from server.storage.workspaces import Workspaces


class IngestService:
    def __init__(
        self,
        writer: IngestWriter,
        *,
        profiles: Profiles,
        identities: Identities,
        workspaces: Workspaces,
        taxonomy: TaxonomyService,
        vault: Vault,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._profiles = profiles
        self._identities = identities
        self._workspaces = workspaces
        self._taxonomy = taxonomy
        self._vault = vault
        self._clock = clock

    async def ingest(self, principal: Principal, raws: list[Any], *, gpc: bool = False) -> IngestResult:
        """Store every valid message once; report each invalid one by index with field and code."""
        if len(raws) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(
                f"At most {MAX_BATCH_EVENTS} events per request.", field="events", code="TOO_MANY_EVENTS"
            )
        received_at = self._clock()
        workspace = await self._workspaces.get(principal.workspace_id)
        taxonomy = await self._taxonomy.definitions(workspace.id)
        rejected: list[Rejection] = []
        messages: list[Message] = []
        for index, raw in enumerate(raws):
            try:
                messages.append(self._prepare(index, raw, received_at, gpc, workspace, taxonomy))
            except InvalidInput as error:
                rejected.append(Rejection(index, error.code, error.message, error.field))
        result = await self._writer.write(workspace, Submission(principal, messages))
        result.rejected = sorted([*rejected, *result.rejected], key=lambda r: r.index)
        _count(result)
        return result

    async def set_consent(
        self,
        principal: Principal,
        *,
        user_id: str | None,
        anonymous_id: str | None,
        decisions: list[Decision],
        policy_version: str | None,
    ) -> Profile:
        """Record consent decisions for a customer (creating the profile if it is new)."""
        parse({"type": "identify", "userId": user_id, "anonymousId": anonymous_id})
        now = self._clock()
        workspace = await self._workspaces.get(principal.workspace_id)
        message = Message(
            index=0,
            type="identify",
            message_id="consent-" + secrets.token_hex(16),
            at=now,
            user_id=user_id,
            anonymous_id=anonymous_id,
            previous_id=None,
            group_id=None,
            decisions=tuple(decisions),
            policy_version=policy_version,
            traits={},
            behaviour=None,
            ids=self._vault.identifiers(
                workspace.id,
                alias=False,
                user_id=user_id,
                anonymous_id=anonymous_id,
                previous_id=None,
                traits=(),
                region=workspace.phone_region,
            ),
        )
        return await self._profile_of(
            principal, await self._writer.write(workspace, Submission(principal, [message]))
        )

    async def identify(self, principal: Principal, raw: dict[str, Any], *, gpc: bool = False) -> Profile:
        """One identify message, stored like any other; the profile it landed on."""
        result = await self.ingest(principal, [raw], gpc=gpc)
        if result.duplicates:
            # Sent before: the customer's profile is wherever those ids lead now.
            workspace = await self._workspaces.get(principal.workspace_id)
            for kind, value in (
                (IdentifierKind.USER_ID, raw.get("userId")),
                (IdentifierKind.ANONYMOUS_ID, raw.get("anonymousId")),
            ):
                hash_ = self._vault.hash_of(workspace.id, kind, value)
                if hash_ is not None and (owner := await self._identities.owner(workspace.id, hash_)):
                    result.profile_ids.append(owner)
                    break
        return await self._profile_of(principal, result)

    async def _profile_of(self, principal: Principal, result: IngestResult) -> Profile:
        """The profile one message landed on, or the coded reason it did not."""
        if result.rejected:
            rejection = result.rejected[0]
            raise InvalidInput(rejection.message, field=rejection.field, code=rejection.code)
        if not result.profile_ids:
            raise InvalidInput(
                "These identifiers were erased and are suppressed.", field="userId", code="SUPPRESSED"
            )
        profile = await self._profiles.get(principal.workspace_id, result.profile_ids[0])
        assert profile is not None
        return profile

    def _prepare(
        self,
        index: int,
        raw: Any,
        received_at: datetime,
        gpc: bool,
        workspace: WorkspaceSettings,
        taxonomy: Mapping[str, EventDefinition],
    ) -> Message:
        payload = parse(raw)
        at = event_time(payload, received_at)
        if at > received_at + MAX_FUTURE:
            raise InvalidInput(
                "`timestamp` is more than a day in the future.", field="timestamp", code="TIMESTAMP_IN_FUTURE"
            )
        context = payload.context
        consent = context.get("consent")
        preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
        decisions = decisions_from_context(
            preferences if isinstance(preferences, dict) else None, gpc or context.get("gpc") is True
        )
        activity = None
        if payload.type not in IDENTITY_TYPES:
            name = event_name(payload.type, payload.event)
            activity = behaviour(name, taxonomy.get(name), payload.properties, context, workspace.own_hosts)
        if payload.traits:
            _check_traits(payload.traits)
        context_traits = context.get("traits")
        return Message(
            index=index,
            type=payload.type,
            message_id=message_id(payload, raw),
            at=at,
            user_id=payload.user_id,
            anonymous_id=payload.anonymous_id,
            previous_id=payload.previous_id,
            group_id=payload.group_id,
            decisions=tuple(decisions),
            policy_version=None,
            traits=payload.traits if payload.type in ("identify", "group") else {},
            behaviour=activity,
            ids=self._vault.identifiers(
                workspace.id,
                alias=payload.type == "alias",
                user_id=payload.user_id,
                anonymous_id=payload.anonymous_id,
                previous_id=payload.previous_id,
                # Segment's browser library repeats the user's traits in every call's context.
                traits=(payload.traits, context_traits if isinstance(context_traits, dict) else {}),
                region=workspace.phone_region,
            ),
        )


def _count(result: IngestResult) -> None:
    for outcome, count in (
        ("accepted", result.accepted),
        ("duplicate", result.duplicates),
        ("suppressed", result.suppressed),
        ("dropped_no_consent", result.dropped_no_consent),
        ("expired", result.expired),
        ("rejected", len(result.rejected)),
    ):
        if count:
            EVENTS_INGESTED.labels(outcome).inc(count)


def _check_traits(traits: Mapping[str, Any]) -> None:
    if len(traits) > MAX_TRAITS:
        raise InvalidInput(
            f"At most {MAX_TRAITS} traits per profile.", field="traits", code="TOO_MANY_TRAITS"
        )
    if any(len(json.dumps(value, default=str)) > MAX_TRAIT_BYTES for value in traits.values()):
        raise InvalidInput(
            f"A trait's value is at most {MAX_TRAIT_BYTES} bytes as JSON.",
            field="traits",
            code="TRAIT_TOO_LARGE",
        )
