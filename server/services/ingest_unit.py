"""One unit of work of the write path: prepared messages of one workspace, judged against the state
they find and written in one transaction.

Reads are a fixed few, all by `_id` or an indexed equality/`$in`: the identity documents of every
identifier (which also say which are suppressed), the profiles they point to, the message ids already
stored, and the data keys of profiles receiving personal traits. Writes are one command per collection.
Only merges (rare) read more. An attempt keeps all its state in the object, so a retried transaction
starts afresh.
"""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.classification import IdentifierKind, is_pii_trait, split_traits
from privacy.consent import ConsentEntry, Decision, chained, combine_most_restrictive, is_granted, snapshot
from privacy.crypto import WrappedKey
from privacy.purposes import ConsentSource, Purpose
from server.domain.access import Principal, Role
from server.domain.event import StoredEvent
from server.domain.identity import Known, Outcome, Resolution, resolve
from server.domain.ingest import IngestResult, Rejection
from server.domain.message import IDENTITY_TYPES, Message
from server.domain.profile import (
    MAX_TRAITS,
    Profile,
    identifier_count,
    seen,
    trait_count_with,
    user_ids,
    with_alias,
    with_ids,
    with_traits,
)
from server.domain.rescoring import counts_for_scores, rescored, scored
from server.domain.retention import DataKind, expires_at, is_expired, period, profile_expiry
from server.domain.taxonomy import EventDefinition
from server.domain.workspace import WorkspaceSettings
from server.services.channels import ChannelService
from server.services.vault import Vault
from server.storage.consent_ledger import ConsentLedger
from server.storage.data_keys import DataKeys
from server.storage.events import Events, new_event_id
from server.storage.identities import Claim, Identities
from server.storage.merges import Merges, merge_record
from server.storage.profiles import Profiles, new_profile_id
from server.storage.receipts import Receipt, Receipts


@dataclass(frozen=True)
class IngestStores:
    """Everything a unit of work reads or writes, passed in explicitly."""

    profiles: Profiles
    events: Events
    receipts: Receipts
    identities: Identities
    ledger: ConsentLedger
    merges: Merges
    data_keys: DataKeys
    channels: ChannelService  # the workspace's custom channels, admitted in the unit's transaction


@dataclass(frozen=True)
class Submission:
    """One caller's messages (already validated and prepared), in the order they were sent."""

    principal: Principal
    messages: list[Message]


class UnitOfWork:
    def __init__(
        self,
        stores: IngestStores,
        vault: Vault,
        workspace: WorkspaceSettings,
        submissions: list[Submission],
        received_at: datetime,
    ) -> None:
        self.s = stores
        self.vault = vault
        self.workspace = workspace
        self.submissions = submissions
        self.received_at = received_at
        self.results = [IngestResult() for _ in submissions]
        self.unplanned: Counter[str] = Counter()
        self.profiles: dict[str, Profile] = {}
        self.owner: dict[str, str] = {}  # identity hash -> profile id, as this unit leaves it
        self.suppressed: set[str] = set()
        self.seen: set[str] = set()
        self.keys: dict[str, bytes] = {}
        self.new_keys: dict[str, WrappedKey] = {}
        self.changed: set[str] = set()
        self.rescore: set[str] = set()
        self.claims: dict[str, Claim] = {}
        self.events: list[StoredEvent] = []
        self.receipts: list[Receipt] = []
        self.ledger: list[tuple[int, ConsentEntry, datetime]] = []
        self.merges: list[dict[str, object]] = []
        self._kept_events = period(workspace.retention, DataKind.EVENTS)
        self._kept_ledger = period(workspace.retention, DataKind.CONSENT_LEDGER)

    @property
    def ws(self) -> str:
        return self.workspace.id

    async def run(self, session: AsyncClientSession) -> list[IngestResult]:
        await self._load(session)
        for submission, result in zip(self.submissions, self.results, strict=True):
            for message in submission.messages:
                await self._judge(session, submission.principal, message, result)
        await self._write(session)
        return self.results

    def messages(self) -> list[Message]:
        return [m for s in self.submissions for m in s.messages]

    async def _load(self, session: AsyncClientSession) -> None:
        messages = self.messages()
        identities = await self.s.identities.find(
            self.ws, (h for m in messages for h in m.ids.hashes()), session=session
        )
        for hash_, identity in identities.items():
            if identity.suppressed:
                self.suppressed.add(hash_)
            elif identity.profile_id is not None:
                self.owner[hash_] = identity.profile_id
        for profile in await self.s.profiles.of_ids(self.ws, list(set(self.owner.values())), session=session):
            if profile.merged_into is None:
                self.profiles[profile.id] = profile
        # An identity left pointing at a profile that is gone (or merged away) no longer owns anything.
        self.owner = {h: pid for h, pid in self.owner.items() if pid in self.profiles}
        behaviour_ids = [m.message_id for m in messages if m.behaviour is not None]
        identity_ids = [m.message_id for m in messages if m.behaviour is None]
        if behaviour_ids:
            self.seen |= await self.s.events.existing_message_ids(self.ws, behaviour_ids, session=session)
        if identity_ids:
            self.seen |= await self.s.receipts.existing(self.ws, identity_ids, session=session)
        pii_names = self.workspace.pii_traits
        with_pii = {
            pid
            for m in messages
            if any(is_pii_trait(name, pii_names) for name in m.traits)
            for h in m.ids.hashes()
            if (pid := self.owner.get(h)) is not None
        }
        if with_pii:
            self.keys = await self.vault.keys(self.ws, with_pii, session=session)

    async def _judge(
        self, session: AsyncClientSession, principal: Principal, message: Message, result: IngestResult
    ) -> None:
        if message.message_id in self.seen:
            result.duplicates += 1
            return
        if any(h in self.suppressed for h in message.ids.hashes()):
            result.suppressed += 1
            return
        self.seen.add(message.message_id)
        profile = await self._profile_for(session, principal, message, result)
        if profile is None:
            return
        profile = seen(profile, message.at)
        if message.decisions:
            profile = self._consent(profile, message.decisions, message.policy_version, message.at)
        if message.traits:
            profile = self._traits(profile, message)
        for kind, hash_ in message.ids.contacts:
            self._claim(hash_, kind, None)
        self._put(profile)
        result.profile_ids.append(profile.id)
        if message.behaviour is None:
            assert message.type in IDENTITY_TYPES
            self.receipts.append(
                Receipt(
                    message.message_id,
                    message.type,
                    profile.id,
                    self.received_at,
                    expires_at(self.received_at, self._kept_events),
                )
            )
            result.accepted += 1
            return
        self._behaviour(profile, message, result)

    def _behaviour(self, profile: Profile, message: Message, result: IngestResult) -> None:
        b = message.behaviour
        assert b is not None
        definition: EventDefinition | None = b.definition
        mode = self.workspace.consent_mode
        if not is_granted(profile.consent, definition.purpose if definition else Purpose.ANALYTICS, mode):
            result.dropped_no_consent += 1
            return
        expire_at = expires_at(message.at, self._kept_events)
        if is_expired(expire_at, self.received_at):
            result.expired += 1
            return
        event = StoredEvent(
            id=new_event_id(),
            message_id=message.message_id,
            profile_id=profile.id,
            type=message.type,
            name=b.name,
            timestamp=message.at,
            received_at=self.received_at,
            phase=definition.phase if definition else None,
            value=b.value,
            planned=definition is not None,
            channel=b.channel,
            campaign=b.campaign,
            properties=b.properties,
            context=b.context,
            consent=snapshot(profile.consent, mode),
            expire_at=expire_at,
        )
        self.events.append(event)
        result.accepted += 1
        if definition is None:
            result.unplanned += 1
            self.unplanned[b.name] += 1
        if profile.id not in self.rescore and counts_for_scores(event, self.received_at):
            self._put(scored(profile, event, self.workspace))

    # Identity

    def _known(self, profile_id: str | None) -> Known | None:
        if profile_id is None:
            return None
        return Known(profile_id, self.profiles[profile_id].user_id)

    async def _profile_for(
        self, session: AsyncClientSession, principal: Principal, message: Message, result: IngestResult
    ) -> Profile | None:
        ids = message.ids
        by_user = self.owner.get(ids.user) if ids.user else None
        second_is_user = False
        if message.type == "alias":
            second_hash, second_id = ids.previous_anonymous, message.previous_id
            if ids.previous_user is not None and ids.previous_user in self.owner:
                second_hash, second_is_user = ids.previous_user, True
        else:
            second_hash, second_id = ids.anonymous, message.anonymous_id
        by_second = self.owner.get(second_hash) if second_hash else None
        resolution = resolve(
            user_id=message.user_id,
            anonymous_id=second_id,
            by_user=self._known(by_user),
            by_anonymous=self._known(by_second),
            may_merge_identified=principal.role is Role.ADMIN or self.workspace.ingest_may_merge_identified,
            second_is_user=second_is_user,
        )
        if self._over_cap(resolution):
            result.rejected.append(
                Rejection(
                    message.index,
                    "TOO_MANY_IDENTIFIERS",
                    f"A profile holds at most {self.workspace.max_identifiers} anonymous or merged ids.",
                    "anonymousId",
                )
            )
            return None
        target = self.profiles.get(resolution.target) if resolution.target else None
        if target is not None and message.traits and trait_count_with(target, message.traits) > MAX_TRAITS:
            result.rejected.append(
                Rejection(
                    message.index,
                    "TOO_MANY_TRAITS",
                    f"A profile holds at most {MAX_TRAITS} traits.",
                    "traits",
                )
            )
            return None
        if resolution.target is None:
            profile = Profile(id=new_profile_id())
        else:
            profile = self.profiles[resolution.target]
        if resolution.outcome is Outcome.MERGE:
            assert resolution.loser is not None
            profile = await self._merge(
                session, principal, profile, self.profiles[resolution.loser], resolution.rule
            )
        elif resolution.outcome is Outcome.REFUSED_MERGE:
            self.merges.append(
                merge_record(
                    winner_id=profile.id,
                    loser_id=by_second,
                    rule=resolution.rule,
                    key_id=principal.key_id,
                    at=self.received_at,
                    merged=False,
                )
            )
        profile = with_ids(profile, user_id=resolution.add_user_id, anonymous_id=resolution.add_anonymous_id)
        if resolution.add_alias is not None:
            profile = with_alias(profile, resolution.add_alias)
        for hash_, kind, value in (
            (ids.user, IdentifierKind.USER_ID, resolution.add_user_id or resolution.add_alias),
            (second_hash, IdentifierKind.ANONYMOUS_ID, resolution.add_anonymous_id),
        ):
            if hash_ is not None and value is not None:
                self._claim(hash_, kind.value, profile.id)
        self._put(profile)
        return profile

    def _over_cap(self, resolution: Resolution) -> bool:
        """Whether the message would give one profile more identifiers than the workspace allows."""
        target = self.profiles.get(resolution.target) if resolution.target else None
        held = set(target.anonymous_ids) if target is not None else set()
        count = identifier_count(target) if target is not None else 0
        if resolution.outcome is Outcome.MERGE and resolution.loser is not None:
            loser = self.profiles[resolution.loser]
            held |= set(loser.anonymous_ids)
            count += identifier_count(loser) + (loser.user_id is not None)
        count += resolution.add_anonymous_id is not None and resolution.add_anonymous_id not in held
        count += resolution.add_alias is not None
        return count > self.workspace.max_identifiers

    def _claim(self, hash_: str, kind: str, profile_id: str | None) -> None:
        earlier = self.claims.get(hash_)
        owner = profile_id if profile_id is not None else (earlier.profile_id if earlier else None)
        self.claims[hash_] = Claim(hash_, kind, owner)
        if profile_id is not None:
            self.owner[hash_] = profile_id

    def _put(self, profile: Profile) -> None:
        self.profiles[profile.id] = profile
        self.changed.add(profile.id)

    async def _merge(
        self, session: AsyncClientSession, principal: Principal, winner: Profile, loser: Profile, rule: str
    ) -> Profile:
        """The loser's events, identifiers, traits and consent move to the winner (scores recomputed
        from all events at the end); the loser keeps only `merged_into`."""
        await self.s.events.repoint(self.ws, loser.id, winner.id, session=session)
        self.events = [
            replace(e, profile_id=winner.id) if e.profile_id == loser.id else e for e in self.events
        ]
        merged = winner
        if loser.pii:
            await self._fetch_keys(session, [loser.id, winner.id])
            plaintext = self.vault.open_with(self.ws, loser, self.keys.get(loser.id))
            key = self._key(winner.id)
            for name, value in plaintext.items():
                merged = self.vault.seal(
                    self.ws,
                    merged,
                    {name: value},
                    loser.pii[name][1],
                    key,
                    region=self.workspace.phone_region,
                )
            merged = replace(
                merged, blind_indexes=tuple(sorted({*merged.blind_indexes, *loser.blind_indexes}))
            )
        for name, trait in loser.traits.items():
            merged = with_traits(merged, {name: trait.value}, trait.at)
        for anonymous_id in loser.anonymous_ids:
            merged = with_ids(merged, user_id=None, anonymous_id=anonymous_id)
            self._claim(
                self.vault.identity_hash(self.ws, IdentifierKind.ANONYMOUS_ID, anonymous_id),
                "anonymous_id",
                winner.id,
            )
        for user_id in user_ids(loser):
            merged = with_alias(merged, user_id)
            self._claim(
                self.vault.identity_hash(self.ws, IdentifierKind.USER_ID, user_id), "user_id", winner.id
            )
        if loser.last_active is not None:
            merged = seen(merged, loser.last_active)
        merged = self._consent(merged, _combined(winner, loser), None, self.received_at)
        self._put(replace(loser, merged_into=winner.id, anonymous_ids=(), user_id=None, user_aliases=()))
        self.rescore.add(winner.id)
        self.merges.append(
            merge_record(
                winner_id=winner.id,
                loser_id=loser.id,
                rule=rule,
                key_id=principal.key_id,
                at=self.received_at,
                merged=True,
            )
        )
        return merged

    # Consent and personal data

    def _consent(
        self,
        profile: Profile,
        decisions: tuple[Decision, ...] | list[Decision],
        policy: str | None,
        at: datetime,
    ) -> Profile:
        state, head, appended = chained(
            profile.consent,
            profile.consent_head,
            decisions,
            profile_id=profile.id,
            policy_version=policy,
            effective_at=at,
            recorded_at=self.received_at,
        )
        if not appended:
            return profile
        for seq, entry in appended:
            self.ledger.append((seq, entry, expires_at(entry.at, self._kept_ledger)))
        return replace(profile, consent=state, consent_head=head)

    def _traits(self, profile: Profile, message: Message) -> Profile:
        plain, pii = split_traits(message.traits, self.workspace.pii_traits)
        if plain:
            profile = with_traits(profile, plain, message.at)
        if pii:
            key = self._key(profile.id)
            profile = self.vault.seal(
                self.ws, profile, pii, message.at, key, region=self.workspace.phone_region
            )
        return profile

    def _key(self, profile_id: str) -> bytes:
        """The profile's data key: loaded with the unit, or new (stored with the unit's writes)."""
        if profile_id not in self.keys:
            key, wrapped = self.vault.new_key(self.ws, profile_id)
            self.keys[profile_id] = key
            self.new_keys[profile_id] = wrapped
        return self.keys[profile_id]

    async def _fetch_keys(self, session: AsyncClientSession, profile_ids: list[str]) -> None:
        missing = [pid for pid in profile_ids if pid not in self.keys]
        if missing:
            self.keys.update(await self.vault.keys(self.ws, missing, session=session))

    # Writing

    async def _write(self, session: AsyncClientSession) -> None:
        ws = self.ws
        if self.rescore:
            stored = await self.s.events.of_profiles(ws, sorted(self.rescore), session=session)
            for profile_id in self.rescore:
                events = [e for e in [*stored, *self.events] if e.profile_id == profile_id]
                self._put(rescored(self.profiles[profile_id], events, self.workspace, self.received_at))
        await self.s.identities.claim(ws, list(self.claims.values()), self.received_at, session=session)
        if self.events:
            names = await self.s.channels.admit(ws, [e.channel for e in self.events], session=session)
            self.events = [
                e if names[e.channel] == e.channel else replace(e, channel=names[e.channel])
                for e in self.events
            ]
        await self.s.events.insert(ws, self.events, session=session)
        await self.s.receipts.insert(ws, self.receipts, session=session)
        await self.s.ledger.append(ws, self.ledger, session=session)
        await self.s.data_keys.insert(ws, self.new_keys, session=session)
        changed = [self.profiles[p] for p in sorted(self.changed)]
        expiry = {p.id: profile_expiry(p.last_active, self.workspace.retention) for p in changed}
        await self.s.profiles.save_all(ws, changed, expire_at=expiry, session=session)
        await self.s.merges.record(ws, self.merges, session=session)


def _combined(winner: Profile, loser: Profile) -> list[Decision]:
    combined = combine_most_restrictive(winner.consent, loser.consent)
    decisions: list[Decision] = [(p, s.granted, ConsentSource.MERGE) for p, s in combined.items()]
    # A grant the merge withdrew must reach the ledger as a withdrawal.
    for purpose, state in winner.consent.items():
        if purpose not in combined and state.granted:
            decisions.append((purpose, False, ConsentSource.MERGE))
    return decisions
