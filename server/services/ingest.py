"""The write path: validate → suppression → consent → minimization → encryption → store → score.

One batch is one transaction, so nothing a caller sent is half-written, and a batch that raced a
copy of itself is re-judged against what that copy stored (duplicates, never a 500).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from privacy.classification import split_traits
from privacy.consent import (
    ConsentEntry,
    apply_entry,
    changes,
    combine_most_restrictive,
    decisions_from_context,
    is_granted,
    ledger_entry,
    snapshot,
)
from privacy.minimization import minimize_context, minimize_properties
from privacy.purposes import ConsentSource, Purpose
from server.domain.access import Principal, Role
from server.domain.affinity import add_affinity
from server.domain.channel import derive_channel
from server.domain.errors import InvalidInput, PayloadTooLarge
from server.domain.identity import Known, Outcome, resolve
from server.domain.profile import Profile, seen, with_ids, with_traits
from server.domain.retention import DataKind, expires_at, is_expired, period, profile_expiry
from server.domain.scoring import EMPTY_STATE, ScoredEvent, apply_event
from server.domain.taxonomy import EventDefinition, value_for
from server.domain.workspace import WorkspaceSettings
from server.metrics import EVENTS_INGESTED
from server.services.event_payload import (
    MAX_BATCH_EVENTS,
    MAX_FUTURE,
    EventPayload,
    event_name,
    event_time,
    message_id,
    parse,
)
from server.services.taxonomy import TaxonomyService
from server.services.vault import Vault
from server.storage.client import Client
from server.storage.consent_ledger import ConsentLedger
from server.storage.events import Events, StoredEvent, new_event_id
from server.storage.merges import Merges, merge_record
from server.storage.profiles import Profiles, new_profile_id
from server.storage.suppressions import Suppressions
from server.storage.workspaces import Workspaces

Decision = tuple[Purpose, bool, ConsentSource]
_ATTEMPTS = 4


@dataclass(frozen=True)
class Rejection:
    index: int
    code: str
    message: str
    field: str | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    suppressed: int = 0
    dropped_no_consent: int = 0
    unplanned: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    profile_ids: list[str] = field(default_factory=list)  # per accepted message, in order


@dataclass(frozen=True)
class Message:
    """One validated message, ready to be judged."""

    index: int
    payload: EventPayload
    message_id: str
    at: datetime
    decisions: tuple[Decision, ...]
    policy_version: str | None = None


def _is_duplicate_key(error: Exception) -> bool:
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        return any(e.get("code") == 11000 for e in error.details.get("writeErrors", []))
    return False


class IngestService:
    def __init__(
        self,
        client: Client,
        *,
        profiles: Profiles,
        events: Events,
        ledger: ConsentLedger,
        suppressions: Suppressions,
        merges: Merges,
        workspaces: Workspaces,
        taxonomy: TaxonomyService,
        vault: Vault,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._profiles = profiles
        self._events = events
        self._ledger = ledger
        self._suppressions = suppressions
        self._merges = merges
        self._workspaces = workspaces
        self._taxonomy = taxonomy
        self._vault = vault
        self._clock = clock

    async def ingest(self, principal: Principal, raws: list[Any], *, gpc: bool = False) -> IngestResult:
        """Store every valid message once; report each invalid one by index with field and code."""
        if len(raws) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(
                f"At most {MAX_BATCH_EVENTS} events per request.",
                field="events",
                code="TOO_MANY_EVENTS",
            )
        received_at = self._clock()
        result = IngestResult()
        messages: list[Message] = []
        for index, raw in enumerate(raws):
            try:
                messages.append(self._message(index, raw, received_at, gpc))
            except InvalidInput as error:
                result.rejected.append(Rejection(index, error.code, error.message, error.field))
        await self._store(principal, messages, result, received_at)
        for outcome, count in (
            ("accepted", result.accepted),
            ("duplicate", result.duplicates),
            ("suppressed", result.suppressed),
            ("dropped_no_consent", result.dropped_no_consent),
            ("rejected", len(result.rejected)),
        ):
            if count:
                EVENTS_INGESTED.labels(outcome).inc(count)
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
        raw = {"type": "identify", "userId": user_id, "anonymousId": anonymous_id}
        payload = parse(raw)
        now = self._clock()
        message = Message(0, payload, "", now, tuple(decisions), policy_version)
        result = IngestResult()
        await self._store(principal, [message], result, now)
        if not result.profile_ids:
            raise InvalidInput(
                "These identifiers were erased and are suppressed.",
                field="userId",
                code="SUPPRESSED",
            )
        profile = await self._profiles.get(principal.workspace_id, result.profile_ids[0])
        assert profile is not None
        return profile

    def _message(self, index: int, raw: Any, received_at: datetime, gpc: bool) -> Message:
        payload = parse(raw)
        at = event_time(payload, received_at)
        if at > received_at + MAX_FUTURE:
            raise InvalidInput(
                "`timestamp` is more than a day in the future.",
                field="timestamp",
                code="TIMESTAMP_IN_FUTURE",
            )
        consent = payload.context.get("consent")
        preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
        context_gpc = payload.context.get("gpc") is True
        decisions = decisions_from_context(
            preferences if isinstance(preferences, dict) else None, gpc or context_gpc
        )
        return Message(index, payload, message_id(payload, raw), at, tuple(decisions))

    async def _store(
        self,
        principal: Principal,
        messages: list[Message],
        result: IngestResult,
        received_at: datetime,
    ) -> None:
        workspace = await self._workspaces.get(principal.workspace_id)
        taxonomy = await self._taxonomy.definitions(workspace.id)
        messages = await self._unsuppressed(workspace.id, messages, result)
        batch = _Batch(self, principal, workspace, taxonomy, received_at)

        async def attempt_once(session: AsyncClientSession) -> None:
            # with_transaction re-runs this after a transient error: every attempt starts afresh.
            nonlocal batch
            batch = _Batch(self, principal, workspace, taxonomy, received_at)
            await batch.write(session, messages=messages)

        for attempt in range(_ATTEMPTS):
            try:
                async with self._client.start_session() as session:
                    await session.with_transaction(attempt_once)
            except (DuplicateKeyError, BulkWriteError) as error:
                # A concurrent copy of these messages committed first: judge them again.
                if not _is_duplicate_key(error) or attempt == _ATTEMPTS - 1:
                    raise
                continue
            break
        result.accepted += batch.accepted
        result.duplicates += batch.duplicates
        result.dropped_no_consent += batch.dropped_no_consent
        result.unplanned += sum(batch.unplanned.values())
        result.profile_ids.extend(batch.profile_ids)
        await self._taxonomy.count_unplanned(workspace.id, batch.unplanned, received_at)

    async def _unsuppressed(
        self, workspace_id: str, messages: list[Message], result: IngestResult
    ) -> list[Message]:
        hashes = {
            m.index: self._vault.suppression_hashes(
                workspace_id,
                user_id=m.payload.user_id,
                anonymous_id=m.payload.anonymous_id,
                email=m.payload.traits.get("email"),
            )
            for m in messages
        }
        suppressed = await self._suppressions.any_of(
            workspace_id, sorted({h for hs in hashes.values() for h in hs})
        )
        kept = [m for m in messages if not suppressed.intersection(hashes[m.index])]
        result.suppressed += len(messages) - len(kept)
        return kept


class _Batch:
    """One attempt at writing a batch inside a transaction; all state is rebuilt per attempt."""

    def __init__(
        self,
        service: IngestService,
        principal: Principal,
        workspace: WorkspaceSettings,
        taxonomy: Mapping[str, EventDefinition],
        received_at: datetime,
    ) -> None:
        self.s = service
        self.principal = principal
        self.workspace = workspace
        self.taxonomy = taxonomy
        self.received_at = received_at
        self.accepted = 0
        self.duplicates = 0
        self.dropped_no_consent = 0
        self.unplanned: dict[str, int] = {}
        self.profile_ids: list[str] = []
        self.profiles: dict[str, Profile] = {}
        self.by_user: dict[str, str] = {}
        self.by_anonymous: dict[str, str] = {}
        self.changed: set[str] = set()
        self.rescore: set[str] = set()
        self.ledger: list[tuple[int, ConsentEntry, datetime]] = []
        self.events: list[StoredEvent] = []
        self.merges: list[dict[str, Any]] = []

    async def write(self, session: AsyncClientSession, *, messages: list[Message]) -> None:
        ws = self.workspace.id
        ids = [m.message_id for m in messages if m.message_id]
        seen = await self.s._events.existing_message_ids(ws, ids, session=session)
        await self._load(session, messages)
        for message in messages:
            if message.message_id and message.message_id in seen:
                self.duplicates += 1
                continue
            if message.message_id:
                seen.add(message.message_id)
            await self._judge(session, message)
        for profile_id in self.rescore:
            await self._rescore(session, profile_id)
        await self.s._events.insert(ws, self.events, session=session)
        await self.s._ledger.append(ws, self.ledger, session=session)
        changed = [self.profiles[p] for p in self.changed]
        expiry = {p.id: profile_expiry(p.last_active, self.workspace.retention) for p in changed}
        await self.s._profiles.save_all(ws, changed, expire_at=expiry, session=session)
        await self.s._merges.record(ws, self.merges, session=session)

    def _kept(self, kind: DataKind) -> timedelta:
        return period(self.workspace.retention, kind)

    async def _load(self, session: AsyncClientSession, messages: list[Message]) -> None:
        user_ids = sorted({m.payload.user_id for m in messages if m.payload.user_id})
        anonymous_ids = sorted(
            {i for m in messages for i in (m.payload.anonymous_id, m.payload.previous_id) if i}
        )
        for profile in await self.s._profiles.by_ids(
            self.workspace.id, user_ids=user_ids, anonymous_ids=anonymous_ids, session=session
        ):
            self._index(profile)

    def _index(self, profile: Profile) -> None:
        self.profiles[profile.id] = profile
        if profile.user_id:
            self.by_user[profile.user_id] = profile.id
        for anonymous_id in profile.anonymous_ids:
            self.by_anonymous.setdefault(anonymous_id, profile.id)

    def _known(self, profile_id: str | None) -> Known | None:
        if profile_id is None:
            return None
        return Known(profile_id, self.profiles[profile_id].user_id)

    async def _profile_for(self, session: AsyncClientSession, message: Message) -> Profile:
        payload = message.payload
        user_id = payload.user_id
        anonymous_id = payload.previous_id if payload.type == "alias" else payload.anonymous_id
        by_user = self.by_user.get(user_id) if user_id else None
        if payload.type == "alias" and by_user is None and anonymous_id in self.by_user:
            # alias(previousId = an older userId)
            by_anonymous = self.by_user[anonymous_id]  # type: ignore[index]
        else:
            by_anonymous = self.by_anonymous.get(anonymous_id) if anonymous_id else None
        resolution = resolve(
            user_id=user_id,
            anonymous_id=anonymous_id,
            by_user=self._known(by_user),
            by_anonymous=self._known(by_anonymous),
            may_merge_identified=self.principal.role is Role.ADMIN
            or self.workspace.ingest_may_merge_identified,
        )
        if resolution.outcome is Outcome.CREATE:
            profile = Profile(id=new_profile_id())
        else:
            assert resolution.target is not None
            profile = self.profiles[resolution.target]
        if resolution.outcome is Outcome.MERGE:
            assert resolution.loser is not None
            profile = await self._merge(session, profile, self.profiles[resolution.loser], resolution.rule)
        if resolution.outcome is Outcome.REFUSED_MERGE:
            self.merges.append(
                merge_record(
                    winner_id=profile.id,
                    loser_id=by_anonymous,
                    rule=resolution.rule,
                    key_id=self.principal.key_id,
                    at=self.received_at,
                    merged=False,
                )
            )
        profile = with_ids(profile, user_id=resolution.add_user_id, anonymous_id=resolution.add_anonymous_id)
        self._put(profile)
        return profile

    def _put(self, profile: Profile) -> None:
        self._index(profile)
        self.changed.add(profile.id)

    async def _merge(
        self, session: AsyncClientSession, winner: Profile, loser: Profile, rule: str
    ) -> Profile:
        ws = self.workspace.id
        await self.s._events.repoint(ws, loser.id, winner.id, session=session)
        self.events = [
            replace(e, profile_id=winner.id) if e.profile_id == loser.id else e for e in self.events
        ]
        merged = await self.s._vault.absorb(ws, winner, loser, session=session)
        for name, trait in loser.traits.items():
            merged = with_traits(merged, {name: trait.value}, trait.at)
        for anonymous_id in loser.anonymous_ids:
            merged = with_ids(merged, user_id=None, anonymous_id=anonymous_id)
        if loser.last_active is not None:
            merged = seen(merged, loser.last_active)
        merged = self._consent(merged, _combined(winner, loser), None, self.received_at)
        self._put(replace(loser, merged_into=winner.id, anonymous_ids=(), user_id=None))
        self.by_user.pop(loser.user_id or "", None)
        self.rescore.add(winner.id)
        self.merges.append(
            merge_record(
                winner_id=winner.id,
                loser_id=loser.id,
                rule=rule,
                key_id=self.principal.key_id,
                at=self.received_at,
                merged=True,
            )
        )
        return merged

    def _consent(
        self, profile: Profile, decisions: list[Decision], policy_version: str | None, at: datetime
    ) -> Profile:
        state = dict(profile.consent)
        seq, head = profile.consent_head
        for purpose, granted, source in changes(state, decisions):
            seq += 1
            entry = ledger_entry(
                profile_id=profile.id,
                purpose=purpose,
                granted=granted,
                source=source,
                policy_version=policy_version,
                at=at,
                prev_hash=head or None,
            )
            self.ledger.append((seq, entry, expires_at(entry.at, self._kept(DataKind.CONSENT_LEDGER))))
            state = apply_entry(state, entry)
            head = entry.hash
        return replace(profile, consent=state, consent_head=(seq, head))

    async def _judge(self, session: AsyncClientSession, message: Message) -> None:
        payload = message.payload
        profile = seen(await self._profile_for(session, message), message.at)
        profile = self._consent(profile, list(message.decisions), message.policy_version, self.received_at)
        if payload.traits:
            plain, pii = split_traits(payload.traits, self.workspace.pii_traits)
            profile = with_traits(profile, plain, message.at)
            profile = await self.s._vault.seal(self.workspace.id, profile, pii, message.at, session=session)
        self._put(profile)
        self.profile_ids.append(profile.id)
        if payload.type in ("identify", "alias"):
            self.accepted += 1
            return
        name = event_name(payload)
        definition = self.taxonomy.get(name)
        purpose = definition.purpose if definition else Purpose.ANALYTICS
        mode = self.workspace.consent_mode
        if not is_granted(profile.consent, purpose, mode):
            self.dropped_no_consent += 1
            return
        properties, _ = minimize_properties(
            payload.properties, definition.allowed_properties if definition else None
        )
        context, _ = minimize_context(payload.context)
        page = payload.context.get("page") if isinstance(payload.context.get("page"), dict) else {}
        campaign = (
            payload.context.get("campaign") if isinstance(payload.context.get("campaign"), dict) else None
        )
        channel = derive_channel(
            explicit=_text(payload.context.get("channel")),
            campaign=campaign,
            url=_text(page.get("url")),
            referrer=_text(page.get("referrer")),
            own_hosts=self.workspace.own_hosts,
        )
        consent = snapshot(profile.consent, mode)
        event = StoredEvent(
            id=new_event_id(),
            message_id=message.message_id,
            profile_id=profile.id,
            type=payload.type,
            name=name,
            timestamp=message.at,
            received_at=self.received_at,
            phase=definition.phase if definition else None,
            value=value_for(definition, properties),
            planned=definition is not None,
            channel=channel.value,
            campaign=_text((context.get("campaign") or {}).get("name")),
            properties=properties,
            context=context,
            consent=consent,
            expire_at=expires_at(message.at, self._kept(DataKind.EVENTS)),
        )
        self.events.append(event)
        self.accepted += 1
        if definition is None:
            self.unplanned[name] = self.unplanned.get(name, 0) + 1
        # A backfilled event already past its retention is stored (the TTL monitor removes it) but not
        # scored: the retention sweep would only have to take it out again.
        if (
            consent.get(Purpose.PERSONALIZATION.value)
            and profile.id not in self.rescore
            and not is_expired(event.expire_at, self.received_at)
        ):
            self._put(_scored(profile, event, self.workspace))

    async def _rescore(self, session: AsyncClientSession, profile_id: str) -> None:
        """After a merge, scores are recomputed from every event the profile now has."""
        ws = self.workspace.id
        stored = [e async for e in self.s._events.of_profile(ws, profile_id, session=session)]
        pending = [e for e in self.events if e.profile_id == profile_id]
        self._put(rescored(self.profiles[profile_id], [*stored, *pending], self.workspace, self.received_at))


def rescored(
    profile: Profile, events: Iterable[StoredEvent], workspace: WorkspaceSettings, now: datetime
) -> Profile:
    """Scores and affinities from scratch, over the events that granted personalization and have not
    expired at `now` (the TTL monitor may not have deleted them yet)."""
    profile = replace(profile, scores=EMPTY_STATE, affinities={})
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.consent.get(Purpose.PERSONALIZATION.value) and not is_expired(event.expire_at, now):
            profile = _scored(profile, event, workspace)
    return profile


def _scored(profile: Profile, event: StoredEvent, workspace: WorkspaceSettings) -> Profile:
    scored = ScoredEvent(at=event.timestamp, name=event.name, value=event.value, phase=event.phase)
    affinities = profile.affinities
    if event.phase is not None:
        affinities = add_affinity(
            affinities,
            event.phase,
            event.properties,
            event.value,
            event.timestamp,
            workspace.half_life,
        )
    return replace(
        profile,
        scores=apply_event(profile.scores, scored, workspace.half_life),
        affinities=affinities,
    )


def _combined(winner: Profile, loser: Profile) -> list[Decision]:
    combined = combine_most_restrictive(winner.consent, loser.consent)
    decisions: list[Decision] = [(p, s.granted, ConsentSource.MERGE) for p, s in combined.items()]
    # A grant the merge withdrew must reach the ledger as a withdrawal.
    for purpose, state in winner.consent.items():
        if purpose not in combined and state.granted:
            decisions.append((purpose, False, ConsentSource.MERGE))
    return decisions


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
