"""Audiences: definitions, and live membership kept in step with what changes it.

Membership is re-evaluated in bulk — for the profiles a committed ingest unit changed (events, traits,
consent, merges), for a whole workspace after `fitModels` and when a definition is created or changed,
and by a supervised background pass for what time alone changes (decaying scores, "within the last
d days"). Each evaluation reads at most one query per collection for its batch of profiles, never one
per profile, and writes entries and exits with their time.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo

from privacy.classification import is_pii_trait
from privacy.purposes import Purpose
from server.domain.access import Principal, Role
from server.domain.audience import (
    AUDIENCE_PURPOSES,
    MAX_AUDIENCES,
    MAX_NAME,
    Audience,
    Facts,
    LtvMeasure,
    MembershipChange,
    StoredAudience,
    daily_sizes,
    facts_of,
    member,
    needs,
    parse,
)
from server.domain.errors import InvalidInput, NotFound
from server.domain.event import Activity
from server.domain.paging import PAGE_READ_SECONDS, Page, encode_cursor, page_request
from server.domain.profile import Profile
from server.domain.workspace import WorkspaceSettings
from server.services.background import gave_up
from server.services.change_feed import ChangeFeed
from server.services.ltv import LtvService
from server.services.profiles import ProfileService, ProfileView
from server.services.propensity import PropensityService
from server.services.triggers import webhook_url
from server.storage.audiences import Audiences
from server.storage.events import Events
from server.storage.profiles import Profiles
from server.storage.triggers import Triggers
from server.storage.workspaces import CACHE_SIZE, Recent, Workspaces

CHUNK = 500  # profiles evaluated per batch in a whole-workspace pass
MAX_HISTORY_DAYS = 366
# LTV conditions read CLV over this horizon and discount (the defaults of Profile.ltv.clv).
CLV_MONTHS = 12
CLV_MONTHLY_DISCOUNT = 0.01


def _system(workspace_id: str) -> Principal:
    """Who the upkeep reads model outputs as (it never reads personal data)."""
    return Principal(workspace_id, Role.ANALYST, "system:audiences")


def _times(activity: Activity, names: set[str], since: datetime) -> dict[str, list[datetime]]:
    """Per event name (of `names`), the times of the profile's events at or after `since` collected
    with personalization granted."""
    times: dict[str, list[datetime]] = {}
    for at, name, _, _, _, granted in activity.events:
        if granted and name in names and at >= since:
            times.setdefault(name, []).append(at)
    return times


def checked(
    workspace: WorkspaceSettings,
    name: str,
    rule: Any,
    purpose: Purpose | None,
    url: str | None,
    audience_id: str = "",
) -> Audience:
    """The definition from its input, every refusal coded and naming the field."""
    if url is not None:
        try:
            webhook_url(url)
        except InvalidInput as refused:
            raise InvalidInput(
                refused.message.replace("`url`", "`webhookUrl`"), field="webhookUrl", code=refused.code
            ) from None
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f"`name` must be 1 to {MAX_NAME} characters.", field="name", code="INVALID_NAME")
    if purpose is not None and purpose not in AUDIENCE_PURPOSES:
        raise InvalidInput(
            "`purpose` must be MARKETING_EMAIL, MARKETING_SMS or ADVERTISING.",
            field="purpose",
            code="INVALID_PURPOSE",
        )
    parsed = parse(rule, is_personal=lambda trait: is_pii_trait(trait, workspace.pii_traits))
    return Audience(audience_id, name, parsed, purpose, url)


@dataclass(frozen=True)
class SizePoint:
    day: datetime
    size: int


class AudienceService:
    def __init__(
        self,
        store: Audiences,
        profiles: Profiles,
        events: Events,
        workspaces: Workspaces,
        ltv: LtvService,
        propensity: PropensityService,
        views: ProfileService,
        deliveries: Triggers,
        feed: ChangeFeed[MembershipChange],
        clock: Callable[[], datetime],
    ) -> None:
        self._deliveries = deliveries
        self._feed = feed
        self._store = store
        self._profiles = profiles
        self._events = events
        self._workspaces = workspaces
        self._ltv = ltv
        self._propensity = propensity
        self._views = views
        self._clock = clock
        # Upkeep runs after every ingest unit: the definitions come from a short per-process cache
        # (a change made here forgets it at once; other processes see it within seconds).
        self._defined = Recent[list[Audience]]("audiences", CACHE_SIZE)

    # Definitions

    async def define(
        self,
        principal: Principal,
        *,
        name: str,
        rule: Any,
        purpose: Purpose | None,
        webhook_url: str | None = None,
    ) -> tuple[StoredAudience, str | None]:
        """A new audience, its members evaluated at once, and the secret that signs its webhooks
        (shown once; None without a webhook); TOO_MANY_AUDIENCES past the cap."""
        workspace = await self._workspaces.get(principal.workspace_id)
        audience = checked(workspace, name, rule, purpose, webhook_url)
        if await self._store.count(workspace.id) >= MAX_AUDIENCES:
            raise InvalidInput(
                f"A workspace has at most {MAX_AUDIENCES} audiences.",
                field="input",
                code="TOO_MANY_AUDIENCES",
            )
        secret = "whsec_" + secrets.token_urlsafe(24)
        stored = await self._store.insert(workspace.id, audience, secret, self._clock())
        self._defined.forget(workspace.id)
        await self.refresh_workspace(workspace.id, only=[stored.audience])
        return stored, secret if webhook_url is not None else None

    async def update(
        self,
        principal: Principal,
        audience_id: str,
        *,
        name: str,
        rule: Any,
        purpose: Purpose | None,
        webhook_url: str | None = None,
    ) -> StoredAudience:
        """The definition replaced (id, history and signing secret stay) and its members re-evaluated."""
        workspace = await self._workspaces.get(principal.workspace_id)
        audience = checked(workspace, name, rule, purpose, webhook_url, audience_id)
        if not await self._store.replace(workspace.id, audience, self._clock()):
            raise NotFound("No such audience.", field="id")
        self._defined.forget(workspace.id)
        await self.refresh_workspace(workspace.id, only=[audience])
        return await self.get(principal, audience_id)

    async def delete(self, principal: Principal, audience_id: str) -> None:
        """The audience, its members and its history; NOT_FOUND if there is none."""
        if not await self._store.delete(principal.workspace_id, audience_id):
            raise NotFound("No such audience.", field="id")
        self._defined.forget(principal.workspace_id)

    async def all(self, principal: Principal) -> list[StoredAudience]:
        return await self._store.of_workspace(principal.workspace_id)

    async def get(self, principal: Principal, audience_id: str) -> StoredAudience:
        found = await self._store.get(principal.workspace_id, audience_id)
        if found is None:
            raise NotFound("No such audience.", field="id")
        return found

    # Reads

    async def sizes(self, principal: Principal, audience_ids: list[str]) -> dict[str, int]:
        """How many members each audience of the workspace has now (a count of an `_id` range each);
        an id the workspace does not have counts 0."""
        held = {a.audience.id for a in await self._store.of_workspace(principal.workspace_id)}
        return {a: await self._store.size(a) if a in held else 0 for a in audience_ids}

    async def members(
        self,
        principal: Principal,
        audience_id: str,
        *,
        first: int,
        after: str | None,
        narrowed: bool = False,
    ) -> Page[ProfileView]:
        """One page of members in profile-id order (the same cursor as `profiles`), each profile as
        the caller may see it: a range scan of the members, then one read of their profiles.
        `narrowed`: the caller also asked for other criteria, which a member list does not combine."""
        if narrowed:
            raise InvalidInput(
                "`audience` is not combined with other filter criteria.",
                field="filter.audience",
                code="UNSUPPORTED_FILTER",
            )
        await self.get(principal, audience_id)
        request = page_request(first, after)
        # A full page reads up to 500 profiles: the budget of a page read, not of one small query.
        with pymongo.timeout(PAGE_READ_SECONDS):
            rows = await self._store.members(audience_id, first=request.fetch, after=request.after_id)
            shown = rows[: request.size]
            ids = [m.profile_id for m in shown]
            found = {p.id: p for p in await self._profiles.of_ids(principal.workspace_id, ids)}
        views = await self._views.views(
            principal, [found[m.profile_id] for m in shown if m.profile_id in found]
        )
        return Page(views, [encode_cursor(v.profile.id) for v in views], len(rows) > request.size)

    async def of_profiles(
        self, principal: Principal, profile_ids: list[str]
    ) -> dict[str, list[StoredAudience]]:
        """The audiences each profile is in: one query for a page of profiles."""
        memberships = await self._store.memberships_of(principal.workspace_id, profile_ids)
        audiences = {a.audience.id: a for a in await self._store.of_workspace(principal.workspace_id)}
        result: dict[str, list[StoredAudience]] = {pid: [] for pid in profile_ids}
        for m in sorted(memberships, key=lambda m: m.since):
            if m.audience_id in audiences:
                result[m.profile_id].append(audiences[m.audience_id])
        return result

    async def watch(self, principal: Principal, audience_id: str) -> AsyncIterator[MembershipChange]:
        """Each entry and exit from now on (a slow reader gets only a profile's latest change).
        NOT_FOUND for an audience the workspace does not have; TOO_MANY_SUBSCRIPTIONS past the key's cap."""
        if await self._store.get(principal.workspace_id, audience_id) is None:
            raise NotFound("No such audience.", field="audienceId")
        async with self._feed.subscribe(principal, audience_id, field="audienceId") as changes:
            async for change in changes:
                yield change

    async def size_history(
        self, principal: Principal, audience_id: str, start: datetime, end: datetime
    ) -> list[SizePoint]:
        """The size at the end of each UTC day from `start` to `end` (at most MAX_HISTORY_DAYS)."""
        await self.get(principal, audience_id)
        first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = (end.astimezone(UTC) - first).days + 1
        if end < start:
            raise InvalidInput("`to` must not be before `from`.", field="to", code="INVALID_WINDOW")
        if days > MAX_HISTORY_DAYS:
            raise InvalidInput(f"At most {MAX_HISTORY_DAYS} days at once.", field="to", code="OUT_OF_RANGE")
        changes = await self._store.changes(audience_id, first + timedelta(days=days))
        return [SizePoint(day, size) for day, size in daily_sizes(changes, first, days)]

    # Upkeep

    async def after_ingest(self, workspace_id: str, profiles: Sequence[Profile]) -> None:
        """The membership of the profiles a committed unit changed. A failure here never fails the
        ingest (its data is committed): it is logged and counted, and the background pass repairs."""
        try:
            # The unit's own budget does not cover this: a large unit gets a page read's budget.
            with pymongo.timeout(PAGE_READ_SECONDS):
                audiences = await self._defined.get(workspace_id, lambda: self._audiences_of(workspace_id))
                if audiences:
                    workspace = await self._workspaces.get(workspace_id)
                    await self._settle(workspace, audiences, list(profiles), self._clock())
        except Exception as error:  # the events are stored; membership catches up in the next pass
            gave_up("audiences", error)

    async def _audiences_of(self, workspace_id: str) -> list[Audience]:
        return [a.audience for a in await self._store.of_workspace(workspace_id)]

    async def refresh_workspace(self, workspace_id: str, *, only: list[Audience] | None = None) -> None:
        """Re-evaluate every live profile of the workspace (for `only` these audiences, else all),
        in chunks; members whose profile is gone (merged away, expired) leave."""
        audiences = (
            only if only is not None else [a.audience for a in await self._store.of_workspace(workspace_id)]
        )
        if not audiences:
            return
        workspace = await self._workspaces.get(workspace_id)
        now = self._clock()
        live: set[str] = set()
        chunk: list[Profile] = []
        with pymongo.timeout(PAGE_READ_SECONDS * 10):
            async for profile in self._profiles.live(workspace_id):
                live.add(profile.id)
                chunk.append(profile)
                if len(chunk) >= CHUNK:
                    await self._settle(workspace, audiences, chunk, now)
                    chunk = []
            if chunk:
                await self._settle(workspace, audiences, chunk, now)
            for audience in audiences:
                gone: list[tuple[str, str]] = []
                after: str | None = None
                while rows := await self._store.members(audience.id, first=CHUNK, after=after):
                    gone += [(audience.id, m.profile_id) for m in rows if m.profile_id not in live]
                    after = rows[-1].profile_id
                if not gone:
                    continue
                ids = sorted({profile_id for _, profile_id in gone})
                # Erased or expired: nothing of them stays, their history included; merged away: an exit.
                vanished = set(ids) - await self._profiles.existing(workspace_id, ids)
                await self._store.forget_profiles(workspace_id, sorted(vanished))
                await self._store.apply(workspace_id, [], [g for g in gone if g[1] not in vanished], now)

    async def after_fit(self, workspace_id: str) -> None:
        """Models were refitted: audiences reading LTV or conversion probability are re-evaluated."""
        audiences = [a.audience for a in await self._store.of_workspace(workspace_id)]
        model_based = [a for a in audiences if needs([a.rule]).ltv or needs([a.rule]).conversion_probability]
        if model_based:
            await self.refresh_workspace(workspace_id, only=model_based)

    async def _settle(
        self, workspace: WorkspaceSettings, audiences: list[Audience], profiles: list[Profile], now: datetime
    ) -> None:
        ids = [p.id for p in profiles]
        facts = await self._facts(workspace, audiences, profiles, now)
        wanted = {(a.id, f.profile_id) for f in facts for a in audiences if member(a, f, now)}
        scope = {a.id for a in audiences}
        held = {
            (m.audience_id, m.profile_id)
            for m in await self._store.memberships_of(workspace.id, ids)
            if m.audience_id in scope
        }
        entering = wanted - held
        if entering:
            # A profile erased since its unit committed must not come back as a member (the erasure
            # already forgot its memberships): entries are only made for profiles that still exist.
            alive = await self._profiles.existing(workspace.id, sorted({p for _, p in entering}))
            entering = {(a, p) for a, p in entering if p in alive}
        entered, left = await self._store.apply(workspace.id, sorted(entering), sorted(held - wanted), now)
        hooked = {a.id for a in audiences if a.webhook_url}
        if hooked:
            await self._owe(workspace.id, hooked, entered, left, now)

    async def _owe(
        self,
        workspace_id: str,
        hooked: set[str],
        entered: list[tuple[str, str]],
        left: list[tuple[str, str]],
        now: datetime,
    ) -> None:
        """A webhook per entry and exit of audiences that have one, sent (signed, retried, logged) by
        the triggers' delivery loop. The body carries ids only: no personal data."""
        owed: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for change, pairs in (("ENTERED", entered), ("EXITED", left)):
            for audience_id, profile_id in pairs:
                if audience_id in hooked:
                    body = {
                        "audience": audience_id,
                        "change": change,
                        "profileId": profile_id,
                        "at": now.isoformat(),
                    }
                    delivery = f"{audience_id}:{profile_id}:{change}:{now.isoformat()}"
                    owed.setdefault(audience_id, []).append((delivery, profile_id, body))
        for audience_id, rows in owed.items():
            await self._deliveries.owe_many(workspace_id, audience_id, rows, now)

    async def _facts(
        self, workspace: WorkspaceSettings, audiences: list[Audience], profiles: list[Profile], now: datetime
    ) -> list[Facts]:
        """Facts of the live profiles that granted personalization (no one else can be a member), with
        what the rules need read for all of them at once."""
        base = [facts_of(p, workspace, now) for p in profiles if p.merged_into is None]
        candidates = [f for f in base if Purpose.PERSONALIZATION in f.granted]
        if not candidates:
            return []
        want = needs([a.rule for a in audiences])
        ids = [f.profile_id for f in candidates]
        by_id = {p.id: p for p in profiles}
        system = _system(workspace.id)
        activity: dict[str, Activity] = {}
        if want.events or want.conversion_probability or want.ltv:
            activity = await self._events.activity_of(workspace.id, ids)  # one read for all three
        times: dict[str, dict[str, list[datetime]]] = {}
        if want.events:
            since = now - timedelta(days=max(want.events.values()))
            times = {pid: _times(found, set(want.events), since) for pid, found in activity.items()}
        probabilities: dict[str, float | None] = {}
        if want.conversion_probability:
            probabilities = await self._propensity.probabilities(system, ids, activity)
        ltv: dict[str, dict[LtvMeasure, float | None]] = {}
        if want.ltv:
            for pid, value in (await self._ltv.values(system, ids, activity, as_of=now)).items():
                ltv[pid] = {
                    LtvMeasure.REVENUE: value.historical.revenue,
                    LtvMeasure.ORDERS: float(value.historical.orders),
                    LtvMeasure.P_ALIVE: value.p_alive(),
                    LtvMeasure.CLV: value.clv(CLV_MONTHS, CLV_MONTHLY_DISCOUNT),
                }
        return [
            facts_of(
                by_id[pid],
                workspace,
                now,
                conversion_probability=probabilities.get(pid),
                ltv=ltv.get(pid),
                event_times=times.get(pid),
            )
            for pid in ids
        ]

    # Data-subject requests

    async def forget(self, workspace_id: str, profile_ids: list[str]) -> int:
        """Erasure: every membership and recorded entry or exit of these profiles."""
        return await self._store.forget_profiles(workspace_id, profile_ids)

    # Background

    async def run_once(self) -> None:
        """Every workspace with audiences re-evaluated (time alone moves scores and windows); one
        workspace that fails is logged and counted, the others go on."""
        for workspace_id in await self._store.workspace_ids():
            try:
                await self.refresh_workspace(workspace_id)
            except Exception as error:  # one bad workspace must not stop the others
                gave_up("audiences", error)

    async def run_forever(self, interval: float) -> None:
        """The background pass of the server process (run under `supervise`)."""
        while True:
            try:
                await self.run_once()
            except Exception as error:  # the next pass may well succeed
                gave_up("audiences", error)
            await asyncio.sleep(interval)
