"""What a customer token may do about its own customer: see their scores and consent, change their
consent, and ask for their data or its erasure. The subject always comes from the token, never from
the request, so a customer can reach nobody else."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from privacy.consent import ConsentEntry, PurposeState
from privacy.erasure import Regulation
from privacy.purposes import OPTIONAL_PURPOSES, ConsentMode, ConsentSource, Purpose
from server.domain.access import Customer, Principal
from server.domain.dsr import DsrRecord
from server.domain.errors import Forbidden, InvalidInput
from server.domain.profile import Profile
from server.domain.triggers import next_best_action
from server.services.consent import ConsentService
from server.services.dsr import DsrService, Subject
from server.services.ingest import IngestService
from server.services.profiles import ProfileService, Scores
from server.services.triggers import TriggerService
from server.services.workspaces import WorkspaceService


@dataclass(frozen=True)
class Me:
    """A customer as they may see themself."""

    consent_mode: ConsentMode  # what an undecided purpose means: OPT_IN off, OPT_OUT on
    profile_id: str | None = None  # None: Granular holds nothing about them yet
    scores: Scores | None = None  # None also without personalization consent
    next_best_action: str | None = None
    consent: dict[Purpose, PurposeState] = field(default_factory=dict)
    history: list[ConsentEntry] = field(default_factory=list)


def _customer(principal: Principal) -> Customer:
    assert principal.customer is not None, "customer fields admit customer tokens only"
    return principal.customer


class CustomerService:
    def __init__(
        self,
        *,
        profiles: ProfileService,
        consent: ConsentService,
        ingest: IngestService,
        dsr: DsrService,
        triggers: TriggerService,
        workspaces: WorkspaceService,
        clock: Callable[[], datetime],
    ) -> None:
        self._profiles = profiles
        self._consent = consent
        self._ingest = ingest
        self._dsr = dsr
        self._triggers = triggers
        self._workspaces = workspaces
        self._clock = clock

    async def _profile(self, principal: Principal) -> Profile | None:
        """The customer's profile. A token minted for an anonymous id reaches only an anonymous profile:
        once that visitor signed in (the id folded into a user's profile), the device may be shared, so
        the person's data needs a token minted for their user id."""
        customer = _customer(principal)
        profile = await self._profiles.find(
            principal, user_id=customer.user_id, anonymous_id=customer.anonymous_id
        )
        if profile is not None and customer.user_id is None and profile.user_id is not None:
            raise Forbidden(
                "This visitor has signed in: ask for a token minted for their user id.",
                code="IDENTIFIED_CUSTOMER",
            )
        return profile

    async def me(self, principal: Principal) -> Me:
        mode = (await self._workspaces.get(principal)).consent_mode
        profile = await self._profile(principal)
        if profile is None:
            return Me(consent_mode=mode)
        view = await self._profiles.view(principal, profile)
        action = None
        if view.scores is not None:
            action = next_best_action(await self._triggers.rules(principal), profile.scores, self._clock())
        lineage = await self._profiles.lineage(principal, profile.id)
        return Me(
            consent_mode=mode,
            profile_id=profile.id,
            scores=view.scores,
            next_best_action=action,
            consent=view.consent,
            history=await self._consent.history(principal, lineage),
        )

    async def set_consent(self, principal: Principal, purpose: Purpose, granted: bool) -> Me:
        """The customer's own decision, recorded in the ledger with source `customer`."""
        if purpose not in OPTIONAL_PURPOSES:
            raise InvalidInput(
                "This purpose is needed to run the service and cannot be switched off.",
                field="purpose",
                code="NOT_OPTIONAL",
            )
        customer = _customer(principal)
        await self._profile(principal)
        await self._ingest.set_consent(
            principal,
            user_id=customer.user_id,
            anonymous_id=customer.anonymous_id,
            decisions=[(purpose, granted, ConsentSource.CUSTOMER)],
            policy_version=None,
        )
        return await self.me(principal)

    async def request_export(
        self, principal: Principal, regulation: Regulation, *, base_url: str
    ) -> tuple[DsrRecord, str]:
        """A self-service access request: the token is the verification of who asks."""
        await self._profile(principal)
        return await self._dsr.request_export(principal, _subject(principal), regulation, base_url=base_url)

    async def request_erasure(self, principal: Principal, regulation: Regulation) -> DsrRecord:
        await self._profile(principal)
        return await self._dsr.request_erasure(principal, _subject(principal), regulation)


def _subject(principal: Principal) -> Subject:
    customer = _customer(principal)
    return Subject(user_id=customer.user_id, anonymous_id=customer.anonymous_id)
