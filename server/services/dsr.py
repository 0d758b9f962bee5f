"""Data-subject requests: erasure that finishes (and resumes), export streamed once, opt-out."""

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from privacy import export
from privacy.classification import normalize_email, normalize_phone
from privacy.crypto import Keyring, keyed_hash
from privacy.erasure import DsrKind, DsrStatus, Identifiers, Regulation, Step, deadline, overdue
from privacy.purposes import ConsentSource, Purpose
from server.domain.access import Principal
from server.domain.errors import InvalidInput, Unavailable
from server.domain.paging import Page, page_of, page_request
from server.domain.profile import Profile
from server.domain.retention import DataKind, expires_at, period
from server.services.audit import AuditService
from server.services.ingest import IngestService
from server.services.vault import Vault
from server.storage.audit_log import AuditLog
from server.storage.consent_ledger import ConsentLedger
from server.storage.data_keys import DataKeys
from server.storage.dsr_requests import DsrRecord, DsrRequests
from server.storage.events import Events
from server.storage.merges import Merges
from server.storage.profiles import Profiles, scores_doc
from server.storage.suppressions import Suppressions
from server.storage.workspaces import Workspaces

EXPORT_LINK_LIFETIME = timedelta(hours=24)


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
    ledger: ConsentLedger
    merges: Merges
    data_keys: DataKeys
    suppressions: Suppressions
    audit_log: AuditLog


class DsrService:
    def __init__(
        self,
        stores: Stores,
        *,
        vault: Vault,
        keyring: Keyring,
        audit: AuditService,
        ingest: IngestService,
        workspaces: Workspaces,
        clock: Callable[[], datetime],
    ) -> None:
        self._s = stores
        self._workspaces = workspaces
        self._vault = vault
        self._keyring = keyring
        self._audit = audit
        self._ingest = ingest
        self._clock = clock

    async def _resolve(self, principal: Principal, subject: Subject) -> tuple[list[str], list[str]]:
        """(every profile of the subject, merged ones included; keyed hashes of what was given)."""
        if not any(vars(subject).values()):
            raise InvalidInput(
                "Name the subject by at least one identifier.", field="subject", code="MISSING_IDENTITY"
            )
        ws = principal.workspace_id
        blind = [
            index
            for kind, value in (("email", subject.email), ("phone", subject.phone))
            if value and (index := self._vault.blind(ws, kind, value)) is not None
        ]
        seeds = await self._s.profiles.matching(
            ws,
            profile_id=subject.profile_id,
            user_id=subject.user_id,
            anonymous_id=subject.anonymous_id,
            blind_indexes=blind,
        )
        given = [
            ("profile_id", subject.profile_id),
            ("user_id", subject.user_id),
            ("anonymous_id", subject.anonymous_id),
            ("email", normalize_email(subject.email or "")),
            ("phone", normalize_phone(subject.phone or "")),
        ]
        hashes = [keyed_hash(self._keyring.suppression_key, "dsr", ws, k, v) for k, v in given if v]
        return await self._s.profiles.related(ws, seeds), hashes

    async def request_erasure(
        self, principal: Principal, subject: Subject, regulation: Regulation
    ) -> DsrRecord:
        """Erase the subject everywhere; an unfinished erasure of the same subject is resumed."""
        profile_ids, hashes = await self._resolve(principal, subject)
        ws = principal.workspace_id
        record = await self._s.requests.unfinished_for(ws, DsrKind.ERASURE, hashes)
        if record is None:
            record = await self._create(principal, DsrKind.ERASURE, regulation, hashes, profile_ids)
        elif profile_ids:
            record = await self._s.requests.update(
                ws, record.id, {"profile_ids": sorted({*record.profile_ids, *profile_ids})}
            )
        return await self._erase(principal, record)

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

    async def _erase(self, principal: Principal, record: DsrRecord) -> DsrRecord:
        ws, ids = principal.workspace_id, list(record.profile_ids)
        s = self._s
        await s.requests.update(ws, record.id, {"status": DsrStatus.PROCESSING.value, "error": None})
        step = Step.SUPPRESS
        try:
            profiles = await s.profiles.of_ids(ws, ids)
            await s.suppressions.add(
                ws, await self._suppression_hashes(ws, profiles), reason="erasure", at=self._clock()
            )
            for step, run in (
                (Step.SHRED_KEYS, s.data_keys.delete),
                (Step.EVENTS, s.events.delete_for),
                (Step.CONSENT, s.ledger.delete_for),
                (Step.MERGES, s.merges.delete_for),
                (Step.PROFILES, s.profiles.delete),
            ):
                await s.requests.count_into(ws, record.id, step.value, await run(ws, ids))
            step = Step.AUDIT
            pseudonyms = {pid: self.pseudonym(ws, pid) for pid in ids}
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

    async def _suppression_hashes(self, workspace_id: str, profiles: list[Profile]) -> list[str]:
        emails: set[str] = set()
        phones: set[str] = set()
        for profile in profiles:
            traits = await self._vault.open(workspace_id, profile)
            if isinstance(traits.get("email"), str) and (e := normalize_email(traits["email"])):
                emails.add(e)
            if isinstance(traits.get("phone"), str) and (p := normalize_phone(traits["phone"])):
                phones.add(p)
        identifiers = Identifiers(
            user_ids=frozenset(p.user_id for p in profiles if p.user_id),
            anonymous_ids=frozenset(a for p in profiles for a in p.anonymous_ids),
            emails=frozenset(emails),
            phones=frozenset(phones),
        )
        return self._vault.suppression_hashes_of(workspace_id, identifiers.pairs())

    async def request_export(
        self, principal: Principal, subject: Subject, regulation: Regulation, *, base_url: str
    ) -> tuple[DsrRecord, str]:
        """A request and a one-time download link, valid for 24 hours."""
        profile_ids, hashes = await self._resolve(principal, subject)
        ws = principal.workspace_id
        record = await self._create(principal, DsrKind.EXPORT, regulation, hashes, profile_ids)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        record = await self._s.requests.update(
            ws,
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
        sections = [await self._profile_section(ws, p) for p in profiles]
        history = [
            {
                "profileId": e.profile_id,
                "purpose": e.purpose.value,
                "granted": e.granted,
                "source": e.source.value,
                "policyVersion": e.policy_version,
                "at": e.at,
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

    async def _profile_section(self, ws: str, profile: Profile) -> dict[str, Any]:
        traits: dict[str, Any] = {name: t.value for name, t in profile.traits.items()}
        traits.update(await self._vault.open(ws, profile))
        return {
            "id": profile.id,
            "userId": profile.user_id,
            "anonymousIds": list(profile.anonymous_ids),
            "mergedInto": profile.merged_into,
            "traits": traits,
            "consent": {
                p.value: {"granted": s.granted, "source": s.source.value, "at": s.at}
                for p, s in profile.consent.items()
            },
            "scores": scores_doc(profile.scores),
        }

    async def opt_out(self, principal: Principal, subject: Subject, regulation: Regulation) -> DsrRecord:
        """Stop sale/share (advertising) for every live profile of the subject, recorded as a DSR."""
        profile_ids, hashes = await self._resolve(principal, subject)
        record = await self._create(principal, DsrKind.OPT_OUT, regulation, hashes, profile_ids)
        live = [
            p
            for p in await self._s.profiles.of_ids(principal.workspace_id, profile_ids)
            if p.merged_into is None
        ]
        for profile in live:
            await self._ingest.set_consent(
                principal,
                user_id=profile.user_id,
                anonymous_id=None if profile.user_id else profile.anonymous_ids[0],
                decisions=[(Purpose.ADVERTISING, False, ConsentSource.DSR)],
                policy_version=None,
            )
        return await self._s.requests.update(
            principal.workspace_id,
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
