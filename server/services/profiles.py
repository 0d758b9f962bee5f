"""Reading profiles and journeys: scores as of now, behind consent; PII only for roles that may."""

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymongo

from privacy.classification import IdentifierKind
from privacy.consent import PurposeState, is_granted
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.domain.affinity import top_affinities
from server.domain.errors import Forbidden, InvalidInput, NotFound
from server.domain.event import NO_ACTIVITY, Activity, StoredEvent
from server.domain.group import key_owner
from server.domain.identity import Merge
from server.domain.paging import MAX_PAGE, PAGE_READ_SECONDS, Page, cursor_time, page_of, page_request
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
from server.services.change_feed import ChangeFeed
from server.services.vault import Vault
from server.storage.events import Events
from server.storage.groups import Groups
from server.storage.identities import Identities, Identity
from server.storage.merges import Merges
from server.storage.profiles import ProfileQuery, Profiles
from server.storage.workspaces import Workspaces

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
    """A profile as one caller may see it at one moment (personal traits are read apart, `traits`)."""

    profile: Profile
    scores: Scores | None  # None: no personalization consent, so no scores are shown
    consent: dict[Purpose, PurposeState]


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
        feed: ChangeFeed[Profile],
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
        """The live profile for the first id given; a merged id leads to the profile it was merged into."""
        if profile_id is not None:
            found = await self.find_many(principal, ids=[profile_id])
        elif user_id is not None:
            found = await self.find_many(principal, user_ids=[user_id])
        elif anonymous_id is not None:
            found = await self.find_many(principal, anonymous_ids=[anonymous_id])
        else:
            raise InvalidInput(
                "Give one of `id`, `userId` or `anonymousId`.", field="id", code="MISSING_IDENTITY"
            )
        return found[0]

    async def find_many(
        self,
        principal: Principal,
        *,
        ids: list[str] | None = None,
        user_ids: list[str] | None = None,
        anonymous_ids: list[str] | None = None,
    ) -> list[Profile | None]:
        """The live profile of each id, in order (ids, then user ids, then anonymous ids), None where
        the workspace has none; one query finds them all, merged ones cost one more per merge hop."""
        wanted: list[tuple[IdentifierKind | None, str]] = [
            *((None, v) for v in ids or ()),
            *((IdentifierKind.USER_ID, v) for v in user_ids or ()),
            *((IdentifierKind.ANONYMOUS_ID, v) for v in anonymous_ids or ()),
        ]
        if len(wanted) > MAX_PAGE:
            raise InvalidInput(
                f"At most {MAX_PAGE} ids, userIds and anonymousIds together.",
                field="ids",
                code="TOO_MANY_IDS",
            )
        ws = principal.workspace_id
        # User and anonymous ids lead to their profile through the identity map: one `_id` query.
        hashes = {key: self._vault.hash_of(ws, key[0], key[1]) for key in wanted if key[0] is not None}
        owners = await self._identities.find(ws, [h for h in hashes.values() if h is not None])
        holder = {key: key[1] if key[0] is None else _owner(owners, hashes[key]) for key in wanted}
        found = await self._profiles.of_ids(ws, [p for p in holder.values() if p is not None])
        by_id = {p.id: p for p in found}
        chosen = [by_id.get(holder[key] or "") for key in wanted]
        survivors = {p.id: p for p in found if p.merged_into is None}
        hops = {p.id: p.merged_into for p in found if p.merged_into is not None}
        looked: set[str] = set()
        for _ in range(_MERGE_HOPS):
            missing = set(hops.values()) - hops.keys() - survivors.keys() - looked
            if not missing:
                break
            looked |= missing
            for profile in await self._profiles.of_ids(ws, sorted(missing)):
                if profile.merged_into is None:
                    survivors[profile.id] = profile
                else:
                    hops[profile.id] = profile.merged_into
        return [_survivor(p, hops, survivors) for p in chosen]

    async def views_by_ids(
        self,
        principal: Principal,
        *,
        ids: list[str] | None = None,
        user_ids: list[str] | None = None,
        anonymous_ids: list[str] | None = None,
    ) -> list[ProfileView | None]:
        """`find_many`, each profile as the caller may see it."""
        found = await self.find_many(principal, ids=ids, user_ids=user_ids, anonymous_ids=anonymous_ids)
        views = iter(await self.views(principal, [p for p in found if p is not None]))
        return [next(views) if p is not None else None for p in found]

    async def views(self, principal: Principal, profiles: Iterable[Profile]) -> list[ProfileView]:
        """Each profile with its scores as of now (only with personalization consent) and its consent."""
        workspace = await self._workspaces.get(principal.workspace_id)
        now = self._clock()
        return [
            ProfileView(
                profile=profile,
                scores=_scores(profile, workspace, now) if _personalized(profile, workspace) else None,
                consent=dict(profile.consent),
            )
            for profile in profiles
        ]

    async def view(self, principal: Principal, profile: Profile) -> ProfileView:
        return (await self.views(principal, [profile]))[0]

    async def traits(self, principal: Principal, profiles: list[Profile]) -> dict[str, dict[str, Any]]:
        """Each profile's traits: the non-personal ones, plus (for roles that may see them) the
        decrypted personal ones (their data keys read in one query), the read audited once per
        profile."""
        result = {p.id: {name: trait.value for name, trait in p.traits.items()} for p in profiles}
        if not principal.sees_pii:
            return result
        opened = [p for p in profiles if p.pii]
        keys = await self._vault.keys(principal.workspace_id, [p.id for p in opened])
        for profile in opened:
            result[profile.id].update(
                self._vault.open_with(principal.workspace_id, profile, keys.get(profile.id))
            )
        await self._audit.record_many(
            principal, "pii.read", [(p.id, {"fields": sorted(p.pii)}) for p in opened]
        )
        return result

    async def groups_of(
        self, principal: Principal, profiles: Sequence[Profile]
    ) -> dict[str, list[GroupView]]:
        """The groups each profile belongs to, with their traits (personal ones decrypted, and the
        read audited, only for roles that see personal data): one query for a page of profiles."""
        ws = principal.workspace_id
        found = await self._groups.of_ids(ws, sorted({g for p in profiles for g in p.groups}))
        personal = [key_owner(g.id) for g in found.values() if g.pii] if principal.sees_pii else []
        keys = await self._vault.keys(ws, personal) if personal else {}
        views: dict[str, GroupView] = {}
        for group in found.values():
            traits: dict[str, Any] = {name: t.value for name, t in group.traits.items()}
            if (key := keys.get(key_owner(group.id))) is not None:
                traits.update(self._vault.opened(ws, key_owner(group.id), group.pii, key))
            views[group.id] = GroupView(id=group.id, traits=traits)
        opened = sorted(g.id for g in found.values() if key_owner(g.id) in keys)
        if opened:
            await self._audit.record(principal, "pii.read", details={"groups": opened})
        return {p.id: [views.get(g, GroupView(id=g, traits={})) for g in p.groups] for p in profiles}

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
    ) -> Page[ProfileView]:
        """One page of live profiles matching every given criterion.
        E-mail and phone match by blind index, so only roles that may see PII may search by them."""
        if (email or phone) and not principal.sees_pii:
            raise Forbidden("Only COMPLIANCE and ADMIN keys may look up by e-mail or phone.", field="filter")
        request = page_request(first, after)
        blind = [
            self._vault.blind(principal.workspace_id, kind, value) or "-"
            for kind, value in (("email", email), ("phone", phone))
            if value is not None
        ]
        found = await self._profiles.page(
            principal.workspace_id,
            ProfileQuery(
                user_id=user_id,
                anonymous_id=anonymous_id,
                blind_indexes=tuple(blind),
                seen_after=seen_after,
            ),
            first=request.fetch,
            after=request.after_id,
        )
        return page_of(await self.views(principal, found), request, lambda v: (v.profile.id,))

    async def lineage(self, principal: Principal, profile_id: str) -> list[str]:
        """The profile and every profile merged into it, directly or through others."""
        return await self._profiles.lineage(principal.workspace_id, profile_id)

    async def journey(
        self, principal: Principal, profile_id: str, *, first: int, after: str | None
    ) -> Page[StoredEvent]:
        """One page of the profile's events, oldest first (the cursor is the event's time and id)."""
        request = page_request(first, after, key_parts=2)
        at = (cursor_time(request.after[0]), request.after[1]) if request.after else None
        events = await self._events.journey_page(
            principal.workspace_id, profile_id, first=request.fetch, after=at
        )
        return page_of(events, request, lambda e: (e.timestamp.isoformat(), e.id))

    async def activity(self, principal: Principal, profile_ids: list[str]) -> dict[str, Activity]:
        """Each profile's events and purchases (none: an empty activity), read once for every
        per-profile field of a page."""
        with pymongo.timeout(PAGE_READ_SECONDS):
            found = await self._events.activity_of(principal.workspace_id, profile_ids)
        return {profile_id: found.get(profile_id, NO_ACTIVITY) for profile_id in profile_ids}

    async def explanations(
        self, principal: Principal, profiles: list[Profile], activity: Mapping[str, Activity]
    ) -> dict[str, ScoreExplanation | None]:
        """The events and weights behind each profile's scores, from its activity; None without
        personalization consent (the scores themselves are not shown then either)."""
        workspace = await self._workspaces.get(principal.workspace_id)
        now = self._clock()
        # Older events weigh less than 2^-20 of their value: they cannot change what is shown.
        since = now - 20 * workspace.half_life
        return {
            p.id: explain(
                [
                    ScoredEvent(at=at, name=name, value=value, phase=phase)
                    for at, name, phase, value, _, granted in activity.get(p.id, NO_ACTIVITY).events
                    if granted and at >= since
                ],
                now,
                workspace.half_life,
            )
            if _personalized(p, workspace)
            else None
            for p in profiles
        }

    async def watch(self, principal: Principal, profile_id: str) -> AsyncIterator[Scores | None]:
        """The profile's scores now, then each time they change (None: not shown without consent).
        NOT_FOUND for a profile the workspace does not have; TOO_MANY_SUBSCRIPTIONS past the key's cap."""
        profile = await self.find(principal, profile_id=profile_id)
        if profile is None:
            raise NotFound("No profile has this `profileId` in the key's workspace.", field="profileId")
        async with self._feed.subscribe(principal, profile.id, field="profileId") as changes:
            last = (await self.view(principal, profile)).scores
            yield last
            async for changed in changes:
                scores = (await self.view(principal, changed)).scores
                if scores != last:
                    last = scores
                    yield scores

    async def merges(self, principal: Principal, profile_id: str) -> list[Merge]:
        return await self._merges.of_profiles(principal.workspace_id, [profile_id])


def _personalized(profile: Profile, workspace: WorkspaceSettings) -> bool:
    return is_granted(profile.consent, Purpose.PERSONALIZATION, workspace.consent_mode)


def _owner(owners: dict[str, Identity], hash_: str | None) -> str | None:
    identity = owners.get(hash_) if hash_ is not None else None
    return identity.profile_id if identity is not None else None


def _survivor(profile: Profile | None, hops: dict[str, str], survivors: dict[str, Profile]) -> Profile | None:
    """The live profile a found one was merged into (through at most _MERGE_HOPS merges), if any."""
    target = profile.id if profile is not None else None
    for _ in range(_MERGE_HOPS + 1):
        if target is None or target in survivors:
            break
        target = hops.get(target)
    return survivors.get(target) if target is not None else None


def _scores(profile: Profile, workspace: WorkspaceSettings, now: datetime) -> Scores:
    half_life = workspace.half_life
    return Scores(
        phase=phase(profile.scores),
        journey_open=journey_open(profile.scores, now),
        engagement=engagement_score(profile.scores, now, half_life),
        intent=intent_score(profile.scores, now, half_life),
        affinities=top_affinities(profile.affinities, now, half_life),
    )
