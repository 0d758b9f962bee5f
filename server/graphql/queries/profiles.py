from datetime import datetime

import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.enums import Purpose as PurposeEnum
from server.graphql.types.event import Event, EventConnection, EventEdge
from server.graphql.types.profile import (
    PageInfo,
    Profile,
    ProfileConnection,
    ProfileFilter,
    PurposeConsent,
)


@strawberry.type(description="An identity merge (or a refused one) and the key and rule behind it.")
class IdentityMerge:
    winner_id: strawberry.ID
    loser_id: strawberry.ID | None
    rule: str
    key_id: str
    at: datetime
    merged: bool


@strawberry.type
class ProfileQueries:
    @strawberry.field(
        description="One profile by any of its ids; a merged id leads to the surviving profile.",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST, Role.COMPLIANCE),
    )
    async def profile(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> Profile | None:
        services, principal = info.context.services, info.context.principal
        found = await services.profiles.find(
            principal, profile_id=id, user_id=user_id, anonymous_id=anonymous_id
        )
        return Profile.of(await services.profiles.view(principal, found)) if found else None

    @strawberry.field(
        description="Up to 500 profiles in one request, by ids, userIds and anonymousIds together: one "
        "entry per id asked, in that order (ids, then userIds, then anonymousIds), null where the "
        "workspace has no such profile; a merged id leads to the surviving profile.",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST, Role.COMPLIANCE),
    )
    async def profiles_by_ids(
        self,
        info: Info,
        ids: list[strawberry.ID] | None = None,
        user_ids: list[str] | None = None,
        anonymous_ids: list[str] | None = None,
    ) -> list[Profile | None]:
        views = await info.context.services.profiles.views_by_ids(
            info.context.principal,
            ids=[str(i) for i in ids or ()],
            user_ids=user_ids,
            anonymous_ids=anonymous_ids,
        )
        return [Profile.of(v) if v is not None else None for v in views]

    @strawberry.field(
        description="Profiles in id order, Relay-style (1 to 500 per page).",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST, Role.COMPLIANCE),
    )
    async def profiles(
        self,
        info: Info,
        filter: ProfileFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ProfileConnection:
        services, principal = info.context.services, info.context.principal
        f = filter or ProfileFilter()
        if f.audience is not None:
            return ProfileConnection.of(
                await services.audiences.members(
                    principal, str(f.audience), first=first, after=after, narrowed=f.narrowed
                )
            )
        page = await services.profiles.search(
            principal,
            user_id=f.user_id,
            anonymous_id=f.anonymous_id,
            email=f.email,
            phone=f.phone,
            seen_after=f.seen_after,
            first=first,
            after=after,
        )
        return ProfileConnection.of(page)

    @strawberry.field(
        description="A profile's events, oldest first, Relay-style (1 to 500 per page).",
        extensions=allow(Role.PERSONALIZATION, Role.ANALYST, Role.COMPLIANCE),
    )
    async def journey(
        self, info: Info, profile_id: strawberry.ID, first: int = 100, after: str | None = None
    ) -> EventConnection:
        page = await info.context.services.profiles.journey(
            info.context.principal, str(profile_id), first=first, after=after
        )
        return EventConnection(
            edges=[EventEdge(cursor=cursor, node=Event.of(e)) for cursor, e in page],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(
        description="What the customer had decided for a purpose at a past moment (from the ledger).",
        extensions=allow(Role.COMPLIANCE),
    )
    async def consent_at(
        self,
        info: Info,
        profile_id: strawberry.ID,
        purpose: PurposeEnum,
        at: datetime,
    ) -> PurposeConsent | None:
        services, principal = info.context.services, info.context.principal
        ids = await services.profiles.lineage(principal, str(profile_id))
        state = await services.consent.at(principal, ids, purpose, at)
        if state is None:
            return None
        return PurposeConsent(purpose=purpose, granted=state.granted, source=state.source, at=state.at)

    @strawberry.field(
        description="Identity merges of a profile: which profiles, which rule, which key.",
        extensions=allow(Role.ANALYST, Role.COMPLIANCE),
    )
    async def identity_merges(self, info: Info, profile_id: strawberry.ID) -> list[IdentityMerge]:
        merges = await info.context.services.profiles.merges(info.context.principal, str(profile_id))
        return [
            IdentityMerge(
                winner_id=strawberry.ID(m.winner_id),
                loser_id=strawberry.ID(m.loser_id) if m.loser_id else None,
                rule=m.rule,
                key_id=m.key_id,
                at=m.at,
                merged=m.merged,
            )
            for m in merges
        ]
