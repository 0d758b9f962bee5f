"""Reading profiles and journeys: scores as of now, behind consent; PII only for roles that may."""

import base64
import binascii
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from privacy.classification import IdentifierKind
from privacy.consent import PurposeState, is_granted
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.domain.affinity import top_affinities
from server.domain.errors import Forbidden, InvalidInput, NotFound
from server.domain.group import Group, key_owner
from server.domain.profile import Profile
from server.domain.scoring import (
    ScoredEvent,
    ScoreExplanation,
    engagement_score,
    explain,
    intent_score,
    journey_open,
    phase,
)
from server.domain.taxonomy import Phase
from server.domain.workspace import WorkspaceSettings
from server.services.audit import AuditService
from server.services.profile_feed import ProfileFeed
from server.services.vault import Vault
from server.storage.client import Document
from server.storage.events import Events, StoredEvent
from server.storage.groups import Groups
from server.storage.identities import Identities
from server.storage.merges import Merges
from server.storage.profiles import ProfileQuery, Profiles
from server.storage.workspaces import Workspaces

MAX_PAGE = 500
_MERGE_HOPS = 8


@dataclass(frozen=True)
class Scores:
    phase: Phase | None
    journey_open: bool
    engagement: float
    intent: float
    affinities: list[tuple[str, float]]


@dataclass(frozen=True)
class GroupView:
    id: str
    traits: dict[str, Any]


@dataclass(frozen=True)
class ProfileView:
    """A profile as one caller may see it at one moment."""

    profile: Profile
    scores: Scores | None  # None: no personalization consent, so no scores are shown
    traits: dict[str, Any]
    consent: dict[Purpose, PurposeState]


def page_size(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def encode_cursor(event: StoredEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.timestamp.isoformat()}|{event.id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, _, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), event_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "`after` is not a cursor this API issued.", field="after", code="INVALID_CURSOR"
        ) from None


class ProfileService:
    def __init__(
        self,
        profiles: Profiles,
        events: Events,
        merges: Merges,
        workspaces: Workspaces,
        vault: Vault,
        audit: AuditService,
        clock: Callable[[], datetime],
        identities: Identities,
        feed: ProfileFeed,
        groups: Groups,
    ) -> None:
        self._identities = identities
        self._feed = feed
        self._groups = groups
        self._profiles = profiles
        self._events = events
        self._merges = merges
        self._workspaces = workspaces
        self._vault = vault
        self._audit = audit
        self._clock = clock

    async def find(
        self,
        principal: Principal,
        *,
        profile_id: str | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> Profile | None:
        """The live profile for any one id; a merged id leads to the profile it was merged into."""
        ws = principal.workspace_id
        if profile_id is not None:
            profile = await self._profiles.get(ws, profile_id)
        elif user_id is not None or anonymous_id is not None:
            kind = IdentifierKind.USER_ID if user_id is not None else IdentifierKind.ANONYMOUS_ID
            hash_ = self._vault.hash_of(ws, kind, user_id if user_id is not None else anonymous_id)
            owner = await self._identities.owner(ws, hash_) if hash_ else None
            if owner is None:
                return None
            profile = await self._profiles.get(ws, owner)
        else:
            raise InvalidInput(
                "Give one of `id`, `userId` or `anonymousId`.", field="id", code="MISSING_IDENTITY"
            )
        hops = 0
        while profile is not None and profile.merged_into is not None and hops < _MERGE_HOPS:
            profile = await self._profiles.get(ws, profile.merged_into)
            hops += 1
        return profile

    async def view(self, principal: Principal, profile: Profile) -> ProfileView:
        workspace = await self._workspaces.get(principal.workspace_id)
        now = self._clock()
        scores = None
        if is_granted(profile.consent, Purpose.PERSONALIZATION, workspace.consent_mode):
            scores = _scores(profile, workspace, now)
        traits: dict[str, Any] = {name: trait.value for name, trait in profile.traits.items()}
        if principal.sees_pii and profile.pii:
            traits.update(await self._vault.open(principal.workspace_id, profile))
            await self._audit.record(
                principal,
                "pii.read",
                profile_id=profile.id,
                details={"fields": sorted(profile.pii)},
            )
        return ProfileView(profile=profile, scores=scores, traits=traits, consent=dict(profile.consent))

    async def groups(self, principal: Principal, group_ids: Sequence[str]) -> list[GroupView]:
        """The groups a profile belongs to, with their traits (personal ones, decrypted and audited,
        only for roles that see personal data)."""
        ws = principal.workspace_id
        found = await self._groups.of_ids(ws, list(group_ids))
        personal = [key_owner(g.id) for g in found.values() if g.pii] if principal.sees_pii else []
        keys = await self._vault.keys(ws, personal) if personal else {}
        views = []
        for group_id in group_ids:
            group = found.get(group_id) or Group(id=group_id)
            traits: dict[str, Any] = {name: t.value for name, t in group.traits.items()}
            if key_owner(group_id) in keys:
                traits.update(
                    self._vault.opened(ws, key_owner(group_id), group.pii, keys[key_owner(group_id)])
                )
                await self._audit.record(
                    principal, "pii.read", details={"group": group_id, "fields": sorted(group.pii)}
                )
            views.append(GroupView(id=group_id, traits=traits))
        return views

    async def search(
        self,
        principal: Principal,
        *,
        user_id: str | None,
        anonymous_id: str | None,
        email: str | None,
        phone: str | None,
        seen_after: datetime | None,
        first: int,
        after: str | None,
    ) -> tuple[list[Profile], bool]:
        """One page of live profiles matching every given criterion, and whether more follow.
        E-mail and phone match by blind index, so only roles that may see PII may search by them."""
        if (email or phone) and not principal.sees_pii:
            raise Forbidden("Only COMPLIANCE and ADMIN keys may look up by e-mail or phone.", field="filter")
        blind = [
            self._vault.blind(principal.workspace_id, kind, value) or "-"
            for kind, value in (("email", email), ("phone", phone))
            if value is not None
        ]
        size = page_size(first)
        found = await self._profiles.page(
            principal.workspace_id,
            ProfileQuery(
                user_id=user_id,
                anonymous_id=anonymous_id,
                blind_indexes=tuple(blind),
                seen_after=seen_after,
            ),
            first=size + 1,
            after=after,
        )
        return found[:size], len(found) > size

    async def lineage(self, principal: Principal, profile_id: str) -> list[str]:
        """The profile and every profile merged into it, directly or through others."""
        return await self._profiles.lineage(principal.workspace_id, profile_id)

    async def journey(
        self, principal: Principal, profile_id: str, *, first: int, after: str | None
    ) -> tuple[list[StoredEvent], bool]:
        """One page of the profile's events, oldest first, and whether more follow."""
        size = page_size(first)
        events = await self._events.page(
            principal.workspace_id, profile_id, first=size + 1, after=decode_cursor(after)
        )
        return events[:size], len(events) > size

    async def explanation(self, principal: Principal, profile: Profile) -> ScoreExplanation | None:
        """The events and weights behind the profile's scores; None without personalization consent
        (the scores themselves are not shown then either)."""
        workspace = await self._workspaces.get(principal.workspace_id)
        if not is_granted(profile.consent, Purpose.PERSONALIZATION, workspace.consent_mode):
            return None
        now = self._clock()
        # Older events weigh less than 2^-20 of their value: they cannot change what is shown.
        since = now - 20 * workspace.half_life
        events = [
            ScoredEvent(at=e.timestamp, name=e.name, value=e.value, phase=e.phase)
            async for e in self._events.of_profile(principal.workspace_id, profile.id)
            if e.timestamp >= since and e.consent.get(Purpose.PERSONALIZATION.value)
        ]
        return explain(events, now, workspace.half_life)

    async def watch(self, principal: Principal, profile_id: str) -> AsyncIterator[Scores | None]:
        """The profile's scores now, then each time they change (None: not shown without consent).
        NOT_FOUND for a profile the workspace does not have; TOO_MANY_SUBSCRIPTIONS past the key's cap."""
        profile = await self.find(principal, profile_id=profile_id)
        if profile is None:
            raise NotFound("No profile has this `profileId` in the key's workspace.", field="profileId")
        async with self._feed.subscribe(principal, profile.id) as changes:
            last = (await self.view(principal, profile)).scores
            yield last
            async for changed in changes:
                scores = (await self.view(principal, changed)).scores
                if scores != last:
                    last = scores
                    yield scores

    async def merges(self, principal: Principal, profile_id: str) -> list[Document]:
        return await self._merges.of_profiles(principal.workspace_id, [profile_id])


def _scores(profile: Profile, workspace: WorkspaceSettings, now: datetime) -> Scores:
    half_life = workspace.half_life
    return Scores(
        phase=phase(profile.scores),
        journey_open=journey_open(profile.scores, now),
        engagement=engagement_score(profile.scores, now, half_life),
        intent=intent_score(profile.scores, now, half_life),
        affinities=top_affinities(profile.affinities, now, half_life),
    )
