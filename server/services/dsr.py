"""Data-subject requests: erasure that nothing escapes (and that resumes), export streamed once, opt-out.

Erasure is linearizable with ingest. Its first step is one transaction that suppresses every
identifier of the subject and deletes their data keys and profiles; a batch for the same customer in
flight writes the same profile or identity documents, so one of the two must retry, and a batch that
retries finds the identifiers suppressed. Everything a batch committed before that point hangs off a
profile id the request has recorded, and is deleted after it in bounded chunks.
"""

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from privacy import export
from privacy.classification import IdentifierKind, contacts, normalize
from privacy.crypto import Keyring, keyed_hash
from privacy.erasure import DsrKind, DsrStatus, Identifiers, Regulation, Step, deadline, overdue
from privacy.purposes import ConsentSource, Purpose
from server.domain.access import Principal
from server.domain.dsr import DsrRecord
from server.domain.errors import InvalidInput, Unavailable
from server.domain.paging import Page, page_of, page_request
from server.domain.profile import Profile, user_ids
from server.domain.retention import DataKind, expires_at, period
from server.domain.workspace import WorkspaceSettings
from server.services.audit import AuditService
from server.services.ingest import IngestService
from server.services.vault import Vault
from server.storage.audiences import Audiences
from server.storage.audit_log import AuditLog
from server.storage.client import Client
from server.storage.consent_ledger import ConsentLedger
from server.storage.data_keys import DataKeys
from server.storage.dsr_requests import DsrRequests
from server.storage.events import Events
from server.storage.identities import Identities
from server.storage.merges import Merges
from server.storage.profiles import Profiles, scores_doc
from server.storage.receipts import Receipts
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces

EXPORT_LINK_LIFETIME = timedelta(hours=24)
_SUPPRESS_CHUNK = 200  # upserts per command: each chunk well inside the time budget


@dataclass(frozen=True)
class Subject:
    profile_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    anonymous_id: str | None = None


@dataclass(frozen=True)
class Stores:
    requests: DsrRequests
    profiles: Profiles
    events: Events
    receipts: Receipts
    ledger: ConsentLedger
    merges: Merges
    data_keys: DataKeys
    identities: Identities
    deliveries: Triggers
    audit_log: AuditLog
    audiences: Audiences


class DsrService:
    def __init__(
        self,
        client: Client,
        stores: Stores,
        *,
        vault: Vault,
        keyring: Keyring,
        audit: AuditService,
        ingest: IngestService,
        workspaces: Workspaces,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._s = stores
        self._workspaces = workspaces
        self._vault = vault
        self._keyring = keyring
        self._audit = audit
        self._ingest = ingest
        self._clock = clock

    # Who the subject is

    def _given(self, workspace: WorkspaceSettings, subject: Subject) -> list[tuple[IdentifierKind, str]]:
        """The identifiers the request names, normalized (those that do not normalize are left out)."""
        given = [
            (IdentifierKind.USER_ID, subject.user_id),
            (IdentifierKind.ANONYMOUS_ID, subject.anonymous_id),
            (IdentifierKind.EMAIL, subject.email),
            (IdentifierKind.PHONE, subject.phone),
        ]
        return [
            (kind, normalized)
            for kind, value in given
            if value and (normalized := normalize(kind, value, region=workspace.phone_region)) is not None
        ]

    def _request_hashes(
        self, workspace_id: str, subject: Subject, given: list[tuple[IdentifierKind, str]]
    ) -> list[str]:
        """How a request remembers its subject: keyed hashes, so the same subject finds its request."""
        named = [(kind.value, value) for kind, value in given]
        if subject.profile_id:
            named.append(("profile_id", subject.profile_id))
        return [keyed_hash(self._keyring.suppression_key, "dsr", workspace_id, k, v) for k, v in named]

    async def _profiles_of(
        self,
        workspace: WorkspaceSettings,
        subject: Subject,
        given: list[tuple[IdentifierKind, str]],
        *,
        session: AsyncClientSession | None = None,
    ) -> list[str]:
        """Every profile of the subject, merged ones included, by every identifier given."""
        if not any(vars(subject).values()):
            raise InvalidInput(
                "Name the subject by profileId, userId, email, phone or anonymousId.",
                field="subject",
                code="MISSING_IDENTITY",
            )
        ws = workspace.id
        hashes = [self._vault.identity_hash(ws, kind, value) for kind, value in given]
        found = await self._s.identities.find(ws, hashes, session=session)
        seeds = {i.profile_id for i in found.values() if i.profile_id is not None}
        if subject.profile_id:
            seeds.add(subject.profile_id)
        blind = [
            index
            for kind, value in given
            if kind in (IdentifierKind.EMAIL, IdentifierKind.PHONE)
            and (index := self._vault.blind(ws, kind.value, value)) is not None
        ]
        seeds.update(await self._s.profiles.with_blind_index(ws, blind, session=session))
        return await self._s.profiles.related(ws, sorted(seeds), session=session)

    # Erasure

    async def request_erasure(
        self, principal: Principal, subject: Subject, regulation: Regulation
    ) -> DsrRecord:
        """Erase the subject everywhere; an unfinished erasure of the same subject is resumed."""
        workspace = await self._workspaces.get(principal.workspace_id)
        given = self._given(workspace, subject)
        profile_ids = await self._profiles_of(workspace, subject, given)
        hashes = self._request_hashes(workspace.id, subject, given)
        record = await self._s.requests.unfinished_for(workspace.id, DsrKind.ERASURE, hashes)
        if record is None:
            record = await self._create(principal, DsrKind.ERASURE, regulation, hashes, profile_ids)
        return await self._erase(principal, workspace, record, subject, given)

    async def _erase(
        self,
        principal: Principal,
        workspace: WorkspaceSettings,
        record: DsrRecord,
        subject: Subject,
        given: list[tuple[IdentifierKind, str]],
    ) -> DsrRecord:
        ws, s = workspace.id, self._s
        await s.requests.update(ws, record.id, {"status": DsrStatus.PROCESSING.value, "error": None})
        step = Step.SUPPRESS
        try:
            ids = await self._suppress(workspace, record, subject, given)
            for step, run in (
                (Step.EVENTS, s.events.delete_for),
                (Step.RECEIPTS, s.receipts.delete_for),
                (Step.CONSENT, s.ledger.delete_for),
                (Step.MERGES, s.merges.delete_for),
            ):
                while deleted := await run(ws, ids):
                    await s.requests.count_into(ws, record.id, step.value, deleted)
            step = Step.DERIVED
            pseudonyms = {pid: self.pseudonym(ws, pid) for pid in ids}
            await s.deliveries.forget_profiles(ws, pseudonyms)
            await s.audiences.forget_profiles(ws, ids)
            await s.requests.forget_profiles(ws, ids, keep=record.id)
            step = Step.AUDIT
            await s.requests.count_into(
                ws, record.id, "audit_log_pseudonymized", await s.audit_log.pseudonymize(ws, pseudonyms)
            )
        except PyMongoError:
            await self._fail(ws, record, step)
            raise Unavailable("The database failed during erasure; request it again to resume.") from None
        done = await s.requests.update(
            ws,
            record.id,
            {
                "status": DsrStatus.COMPLETED.value,
                "completed_at": self._clock(),
                "profile_ids": [],
                "result.profiles": len(ids),
            },
        )
        await self._audit.record(principal, "dsr.erasure.completed", details={"request_id": record.id})
        return done

    async def _suppress(
        self,
        workspace: WorkspaceSettings,
        record: DsrRecord,
        subject: Subject,
        given: list[tuple[IdentifierKind, str]],
    ) -> list[str]:
        """Every identifier of the subject suppressed, their data keys and profiles deleted; the ids of
        every profile the request has met (recorded on it, so a resumed request finds them all)."""
        ws, s = workspace.id, self._s
        # First outside any transaction, in chunks: a profile that grew before identifiers were capped
        # may hold more than one transaction should carry. Suppressing early only refuses them sooner.
        known = await self._identifiers(
            workspace, await s.profiles.of_ids(ws, list(record.profile_ids)), given
        )
        for start in range(0, len(known), _SUPPRESS_CHUNK):
            await s.identities.suppress(
                ws, known[start : start + _SUPPRESS_CHUNK], reason="erasure", at=self._clock()
            )
        met: list[str] = []
        counts: dict[str, int] = {}

        async def once(session: AsyncClientSession) -> None:
            # Again inside the transaction: a batch that committed meanwhile may have added a profile
            # or an identifier; writing the profiles here is what makes a batch in flight conflict.
            ids = sorted(
                {*record.profile_ids, *await self._profiles_of(workspace, subject, given, session=session)}
            )
            profiles = await s.profiles.of_ids(ws, ids, session=session)
            pointing = await s.identities.of_profiles(ws, ids, session=session)
            found = await self._identifiers(workspace, profiles, given, session=session)
            fresh = sorted({*found, *((i.hash, i.kind) for i in pointing)} - set(known))
            await s.identities.suppress(ws, fresh, reason="erasure", at=self._clock(), session=session)
            await s.identities.release(ws, ids, session=session)
            counts["data_keys"] = await s.data_keys.delete(ws, ids, session=session)
            counts["profiles"] = await s.profiles.delete(ws, ids, session=session)
            met[:] = ids

        async with self._client.start_session() as session:
            await session.with_transaction(once)
        await s.requests.update(ws, record.id, {"profile_ids": met})
        for collection, count in counts.items():
            await s.requests.count_into(ws, record.id, collection, count)
        return met

    async def _identifiers(
        self,
        workspace: WorkspaceSettings,
        profiles: list[Profile],
        given: Iterable[tuple[IdentifierKind, str]],
        *,
        session: AsyncClientSession | None = None,
    ) -> list[tuple[str, str]]:
        """(hash, kind) of every identifier of these profiles (e-mails and phones decrypted from any
        trait that holds one) and of those the request named."""
        ws = workspace.id
        keys = await self._vault.keys(ws, [p.id for p in profiles if p.pii], session=session)
        found: set[tuple[IdentifierKind, str]] = set(given)
        for profile in profiles:
            found.update((IdentifierKind.USER_ID, u) for u in user_ids(profile))
            found.update((IdentifierKind.ANONYMOUS_ID, a) for a in profile.anonymous_ids)
            traits = self._vault.open_with(ws, profile, keys.get(profile.id))
            found.update(contacts(traits, region=workspace.phone_region))
        plan = Identifiers(
            user_ids=frozenset(v for k, v in found if k is IdentifierKind.USER_ID),
            anonymous_ids=frozenset(v for k, v in found if k is IdentifierKind.ANONYMOUS_ID),
            emails=frozenset(v for k, v in found if k is IdentifierKind.EMAIL),
            phones=frozenset(v for k, v in found if k is IdentifierKind.PHONE),
        )
        return [
            (self._vault.identity_hash(ws, IdentifierKind(kind), value), kind) for kind, value in plan.pairs()
        ]

    async def _create(
        self,
        principal: Principal,
        kind: DsrKind,
        regulation: Regulation,
        hashes: list[str],
        profile_ids: list[str],
    ) -> DsrRecord:
        now = self._clock()
        workspace = await self._workspaces.get(principal.workspace_id)
        record = await self._s.requests.create(
            principal.workspace_id,
            kind=kind,
            regulation=regulation,
            received_at=now,
            deadline=deadline(regulation, now),
            requested_by=principal.key_id,
            subject_hashes=hashes,
            profile_ids=profile_ids,
            expire_at=expires_at(now, period(workspace.retention, DataKind.DSR_REQUESTS)),
        )
        await self._audit.record(
            principal, f"dsr.{kind.value.lower()}.received", details={"request_id": record.id}
        )
        return record

    async def _fail(self, workspace_id: str, record: DsrRecord, step: Step) -> None:
        # If even this fails the request stays PROCESSING; asking again resumes it all the same.
        with contextlib.suppress(PyMongoError):
            await self._s.requests.update(
                workspace_id,
                record.id,
                {"status": DsrStatus.FAILED.value, "error": f"stopped at {step.value}"},
            )

    def pseudonym(self, workspace_id: str, profile_id: str) -> str:
        """A stable stand-in for an erased profile in the audit trail; not reversible."""
        return "erased:" + keyed_hash(self._keyring.suppression_key, "audit", workspace_id, profile_id)[:24]

    # Export

    async def request_export(
        self,
        principal: Principal,
        subject: Subject,
        regulation: Regulation,
        *,
        base_url: str,
    ) -> tuple[DsrRecord, str]:
        """A request and a one-time download link, valid for 24 hours."""
        workspace = await self._workspaces.get(principal.workspace_id)
        given = self._given(workspace, subject)
        profile_ids = await self._profiles_of(workspace, subject, given)
        hashes = self._request_hashes(workspace.id, subject, given)
        record = await self._create(principal, DsrKind.EXPORT, regulation, hashes, profile_ids)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        record = await self._s.requests.update(
            workspace.id,
            record.id,
            {
                "status": DsrStatus.COMPLETED.value,
                "completed_at": now,
                "export_digest": self._vault.token_digest(token),
                "export_expires_at": now + EXPORT_LINK_LIFETIME,
                "result": {
                    "found": bool(profile_ids),
                    "profiles": len(profile_ids),
                    "expires_at": now + EXPORT_LINK_LIFETIME,
                },
            },
        )
        return record, f"{base_url.rstrip('/')}/v1/exports/{token}"

    async def export_stream(self, token: str) -> AsyncIterator[str] | None:
        """The export behind a link, streamed; None when the link is unknown, used or expired."""
        now = self._clock()
        claimed = await self._s.requests.claim_export(self._vault.token_digest(token), now)
        if claimed is None:
            return None
        ws, record = claimed
        return self._document(ws, record, now)

    async def _document(self, ws: str, record: DsrRecord, now: datetime) -> AsyncIterator[str]:
        ids = list(record.profile_ids)
        profiles = await self._s.profiles.of_ids(ws, ids)
        keys = await self._vault.keys(ws, [p.id for p in profiles if p.pii])
        sections = [self._profile_section(ws, p, keys.get(p.id)) for p in profiles]
        for section in sections:
            section["audiences"] = await self._audiences_section(ws, section["id"])
        history = [
            {
                "profileId": e.profile_id,
                "purpose": e.purpose.value,
                "granted": e.granted,
                "source": e.source.value,
                "policyVersion": e.policy_version,
                "at": e.effective,
                "recordedAt": e.at,
                "prevHash": e.prev_hash,
                "hash": e.hash,
            }
            for e in await self._s.ledger.history(ws, ids)
        ]
        yield export.header(
            request_id=record.id,
            regulation=record.regulation.value,
            generated_at=now,
            profiles=sections,
            consent_history=history,
        )
        first = True
        async for event in self._s.events.stream_for(ws, ids):
            yield export.event(
                {
                    "event": event.name,
                    "type": event.type,
                    "timestamp": event.timestamp,
                    "channel": event.channel,
                    "properties": event.properties,
                    "context": event.context,
                },
                first=first,
            )
            first = False
        yield export.footer(
            [
                {"id": r.id, "kind": r.kind.value, "status": r.status.value, "receivedAt": r.received_at}
                for r in await self._s.requests.page(ws, status=None, overdue_at=None, first=500, after=None)
                if set(r.subject_hashes) & set(record.subject_hashes)
            ]
        )
        await self._audit.record_as(
            ws, "export-link", "dsr.export.downloaded", details={"request_id": record.id}
        )

    async def _audiences_section(self, ws: str, profile_id: str) -> dict[str, Any]:
        """The profile's audience memberships now and every entry and exit, with times."""
        names = {a.audience.id: a.audience.name for a in await self._s.audiences.of_workspace(ws)}
        return {
            "memberships": [
                {"audience": names.get(m.audience_id, m.audience_id), "since": m.since}
                for m in await self._s.audiences.memberships_of(ws, [profile_id])
            ],
            "history": [
                {
                    "audience": names.get(c.audience_id, c.audience_id),
                    "change": "ENTERED" if c.entered else "EXITED",
                    "at": c.at,
                }
                for c in await self._s.audiences.history_of(ws, [profile_id])
            ],
        }

    def _profile_section(self, ws: str, profile: Profile, key: bytes | None) -> dict[str, Any]:
        traits: dict[str, Any] = {name: t.value for name, t in profile.traits.items()}
        traits.update(self._vault.open_with(ws, profile, key))
        return {
            "id": profile.id,
            "userId": profile.user_id,
            "userAliases": list(profile.user_aliases),
            "anonymousIds": list(profile.anonymous_ids),
            "mergedInto": profile.merged_into,
            "groups": list(profile.groups),
            "traits": traits,
            "consent": {
                p.value: {"granted": s.granted, "source": s.source.value, "at": s.at}
                for p, s in profile.consent.items()
            },
            "scores": scores_doc(profile.scores),
        }

    # Opt-out

    async def opt_out(self, principal: Principal, subject: Subject, regulation: Regulation) -> DsrRecord:
        """Stop sale/share (advertising) for every live profile of the subject, recorded as a DSR."""
        workspace = await self._workspaces.get(principal.workspace_id)
        given = self._given(workspace, subject)
        profile_ids = await self._profiles_of(workspace, subject, given)
        hashes = self._request_hashes(workspace.id, subject, given)
        record = await self._create(principal, DsrKind.OPT_OUT, regulation, hashes, profile_ids)
        live = [p for p in await self._s.profiles.of_ids(workspace.id, profile_ids) if p.merged_into is None]
        for profile in live:
            await self._ingest.set_consent(
                principal,
                user_id=profile.user_id,
                anonymous_id=None if profile.user_id else profile.anonymous_ids[0],
                decisions=[(Purpose.ADVERTISING, False, ConsentSource.DSR)],
                policy_version=None,
            )
        return await self._s.requests.update(
            workspace.id,
            record.id,
            {
                "status": DsrStatus.COMPLETED.value,
                "completed_at": self._clock(),
                "result": {"profiles": len(live)},
            },
        )

    async def get(self, principal: Principal, request_id: str) -> DsrRecord | None:
        return await self._s.requests.get(principal.workspace_id, request_id)

    async def page(
        self,
        principal: Principal,
        *,
        status: DsrStatus | None,
        only_overdue: bool,
        first: int,
        after: str | None,
    ) -> Page[DsrRecord]:
        request = page_request(first, after)
        records = await self._s.requests.page(
            principal.workspace_id,
            status=status,
            overdue_at=self._clock() if only_overdue else None,
            first=request.fetch,
            after=request.after_id,
        )
        return page_of(records, request, lambda r: (r.id,))

    def is_overdue(self, record: DsrRecord) -> bool:
        return overdue(record.status, record.deadline, self._clock())
