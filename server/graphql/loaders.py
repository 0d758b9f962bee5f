"""Per-request DataLoaders: every per-profile field of a page loads in one batch, whatever the page size."""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from server.domain.access import Principal
from server.domain.audience import StoredAudience
from server.domain.customer_value import CustomerValue
from server.domain.event import Activity
from server.domain.profile import Profile
from server.domain.scoring import ScoreExplanation
from server.services.profiles import GroupView
from server.wiring import Services

K = TypeVar("K")
V = TypeVar("V")


def _by(
    load: Callable[[list[K]], Awaitable[Mapping[str, V]]], key: Callable[[K], str]
) -> Callable[[list[K]], Awaitable[list[V]]]:
    """A DataLoader batch function from a service method answering a dict by profile id."""

    async def batch(keys: list[K]) -> list[V]:
        found = await load(keys)
        return [found[key(k)] for k in keys]

    return batch


def _profile_id(profile: Profile) -> str:
    return profile.id


def _same(key: str) -> str:
    return key


async def _ltv_values(
    services: Services,
    principal: Principal,
    activity: DataLoader[str, Activity],
    keys: list[tuple[str, datetime | None]],
) -> list[CustomerValue]:
    """LTV of (profile id, as of) keys: one batch per distinct `asOf` (a page usually has one)."""
    found: dict[tuple[str, datetime | None], CustomerValue] = {}
    for as_of in {as_of for _, as_of in keys}:
        ids = [profile_id for profile_id, at in keys if at == as_of]
        values = await services.ltv.values(principal, ids, await _activity_of(activity, ids), as_of=as_of)
        found.update({(profile_id, as_of): value for profile_id, value in values.items()})
    return [found[key] for key in keys]


async def _activity_of(activity: DataLoader[str, Activity], ids: list[str]) -> dict[str, Activity]:
    """The profiles' activity through the request's one activity loader: the explanations,
    conversion probability and LTV of a page share a single read of their events."""
    return dict(zip(ids, await activity.load_many(ids), strict=True))


async def _probabilities(
    services: Services, principal: Principal, activity: DataLoader[str, Activity], ids: list[str]
) -> dict[str, float | None]:
    return await services.propensity.probabilities(principal, ids, await _activity_of(activity, ids))


async def _explanations(
    services: Services, principal: Principal, activity: DataLoader[str, Activity], profiles: list[Profile]
) -> dict[str, ScoreExplanation | None]:
    found = await _activity_of(activity, [p.id for p in profiles])
    return await services.profiles.explanations(principal, profiles, found)


class Loaders:
    """Created per request (lazily, on first use); `principal` is read when a batch runs, so a
    WebSocket that authenticates after its context was built loads as itself."""

    def __init__(self, services: Services, principal: Callable[[], Principal]) -> None:
        self.activity_by_profile_id: DataLoader[str, Activity] = DataLoader(
            _by(lambda ids: services.profiles.activity(principal(), ids), _same)
        )
        activity = self.activity_by_profile_id
        self.ltv_by_profile_id: DataLoader[tuple[str, datetime | None], CustomerValue] = DataLoader(
            lambda keys: _ltv_values(services, principal(), activity, keys)
        )
        self.groups_by_profile: DataLoader[Profile, list[GroupView]] = DataLoader(
            _by(lambda profiles: services.profiles.groups_of(principal(), profiles), _profile_id),
            cache_key_fn=_profile_id,
        )
        self.conversion_probability_by_profile_id: DataLoader[str, float | None] = DataLoader(
            _by(lambda ids: _probabilities(services, principal(), activity, ids), _same)
        )
        self.score_explanation_by_profile: DataLoader[Profile, ScoreExplanation | None] = DataLoader(
            _by(lambda profiles: _explanations(services, principal(), activity, profiles), _profile_id),
            cache_key_fn=_profile_id,
        )
        self.audiences_by_profile_id: DataLoader[str, list[StoredAudience]] = DataLoader(
            _by(lambda ids: services.audiences.of_profiles(principal(), ids), _same)
        )
        # Audiences reached through many profiles are counted once per request.
        self.size_by_audience_id: DataLoader[str, int] = DataLoader(
            _by(lambda ids: services.audiences.sizes(principal(), ids), _same)
        )
        self.traits_by_profile: DataLoader[Profile, dict[str, Any]] = DataLoader(
            _by(lambda profiles: services.profiles.traits(principal(), profiles), _profile_id),
            cache_key_fn=_profile_id,
        )
