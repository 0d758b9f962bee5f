"""Reports restricted to an audience count its members as of the report's end (`to`) when that end
is past, and its current members otherwise, in both cases joined inside the database.

Time is moved by the services' injected clock: the audience is defined at START, its membership
changes at START + 10 days, and the reports end at START + 5 days."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from privacy.purposes import ConsentSource, Purpose
from server.domain.access import Principal
from server.domain.attribution import GroupBy, Model
from server.services.analytics import Window
from server.wiring import Services
from tests.factories import track
from tests.services.conftest import Stack

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
REPORT_END = START + timedelta(days=5)
CHANGE = START + timedelta(days=10)
SHOE_FANS = {"affinity": {"key": "category:shoes", "minWeight": 0.1}}


class Clock:
    """The services' clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _customer(user: str, category: str, *, size_guide: bool) -> list[dict[str, Any]]:
    """A first visit before START: a view (with a size-guide look in the same first session when
    `size_guide`), a cart add an hour later and an order of 40 an hour after that."""
    at = START - timedelta(hours=5)
    shoes = {"category": category}
    events = [
        track(
            "product_viewed",
            user_id=user,
            anonymous_id=None,
            at=at,
            properties=shoes,
            context={"channel": "email"},
        ),
        track("product_added", user_id=user, anonymous_id=None, at=at + timedelta(hours=1), properties=shoes),
        track(
            "order_completed",
            user_id=user,
            anonymous_id=None,
            at=at + timedelta(hours=2),
            properties={**shoes, "revenue": 40},
        ),
    ]
    if size_guide:
        events.append(
            track("size_guide_viewed", user_id=user, anonymous_id=None, at=at + timedelta(minutes=10))
        )
    return events


@dataclass
class Shop:
    services: Services
    clock: Clock
    audience: str  # the shoe fans


async def _shop(stack: Stack, *, cy_from_the_start: bool) -> Shop:
    """Services on the test's clock, and the shoe fans audience defined at START: ana and dee (shoes)
    enter then, ben (hats) never; cy (shoes) enters at START too, or only at CHANGE."""
    clock = Clock(START)
    services = Services.build(stack.db, stack.keyring, clock=clock)
    first = ["ana", "dee", "cy"] if cy_from_the_start else ["ana", "dee"]
    events = [e for user in first for e in _customer(user, "shoes", size_guide=user != "dee")]
    await services.ingest.ingest(stack.ingest, events + _customer("ben", "hats", size_guide=True))
    stored, _ = await services.audiences.define(stack.admin, name="shoe fans", rule=SHOE_FANS, purpose=None)
    if not cy_from_the_start:
        clock.now = CHANGE
        await services.ingest.ingest(stack.ingest, _customer("cy", "shoes", size_guide=True))
    return Shop(services, clock, stored.audience.id)


async def _cy_consents(stack: Stack, shop: Shop, *, granted: bool) -> None:
    """cy grants or withdraws personalization (without it she is in no audience)."""
    await shop.services.ingest.set_consent(
        stack.ingest,
        user_id="cy",
        anonymous_id=None,
        decisions=[(Purpose.PERSONALIZATION, granted, ConsentSource.API)],
        policy_version=None,
    )


async def _cy_left(stack: Stack) -> Shop:
    """The shop with cy a member from START until she withdrew personalization at CHANGE; a day later."""
    shop = await _shop(stack, cy_from_the_start=True)
    shop.clock.now = CHANGE
    await _cy_consents(stack, shop, granted=False)
    shop.clock.now = CHANGE + timedelta(days=1)
    return shop


# Each report's count of the profiles it saw, restricted to the shop's audience and ending at `end`.
Count = Callable[[Shop, Principal, datetime | None], Awaitable[float]]


def _window(shop: Shop, end: datetime | None) -> Window:
    return Window(None, None, end, 30, 7.0, GroupBy.CHANNEL, shop.audience)


async def _attributed(shop: Shop, principal: Principal, end: datetime | None) -> float:
    reports = await shop.services.analytics.attribution(principal, _window(shop, end))
    return reports[Model.LINEAR].total_conversions


async def _top_paths(shop: Shop, principal: Principal, end: datetime | None) -> float:
    paths = await shop.services.analytics.top_paths(principal, _window(shop, end), first=100)
    return sum(p.conversions for p in paths)


async def _funnel(shop: Shop, principal: Principal, end: datetime | None) -> float:
    steps = await shop.services.analytics.funnel(principal, ["product_viewed"], None, end, 720, shop.audience)
    return steps[0].profiles


async def _ltv_drivers(shop: Shop, principal: Principal, end: datetime | None) -> float:
    drivers = await shop.services.drivers.ltv(principal, None, end, shop.audience)
    size_guide = next(d for d in drivers if d.event == "size_guide_viewed")
    return size_guide.customers_with + size_guide.customers_without


REPORTS = pytest.mark.parametrize(
    "count",
    [_attributed, _top_paths, _funnel, _ltv_drivers],
    ids=["attribution", "topPaths", "funnel", "ltvDrivers"],
)


@REPORTS
async def test_a_member_who_left_after_the_reports_end_is_counted_in_it(stack: Stack, count: Count) -> None:
    shop = await _cy_left(stack)
    assert await count(shop, stack.admin, REPORT_END) == 3


@REPORTS
async def test_a_profile_that_entered_after_the_reports_end_is_not_counted_in_it(
    stack: Stack, count: Count
) -> None:
    shop = await _shop(stack, cy_from_the_start=False)
    shop.clock.now = CHANGE + timedelta(days=1)
    assert await count(shop, stack.admin, REPORT_END) == 2


@REPORTS
async def test_a_report_without_an_end_counts_the_current_members(stack: Stack, count: Count) -> None:
    shop = await _cy_left(stack)
    assert await count(shop, stack.admin, None) == 2


async def test_a_member_who_left_and_came_back_at_the_same_moment_is_a_member_then(stack: Stack) -> None:
    shop = await _cy_left(stack)
    shop.clock.now = CHANGE
    await _cy_consents(stack, shop, granted=True)  # back at CHANGE, the moment she left
    rows = await stack.db["audience_changes"].find({"at": CHANGE}).sort("_id", 1).to_list()
    assert [r["delta"] for r in rows] == [-1, 1]  # at the same time: the later row (by `_id`) decides
    shop.clock.now = CHANGE + timedelta(days=1)
    await _cy_consents(stack, shop, granted=False)  # and not a member now
    assert await _attributed(shop, stack.admin, CHANGE) == 3


async def _funnel_commands(stack: Stack, shop: Shop, *ends: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The commands the funnel ending at each of `ends` sends, now CHANGE."""
    shop.clock.now = CHANGE
    stack.log.seen.clear()
    stack.log.recording = True
    try:
        for end in ends:
            await _funnel(shop, stack.admin, end)
    finally:
        stack.log.recording = False
    return stack.commands()


def _lookups(commands: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The collections the aggregations among `commands` joined with `$lookup`."""
    return [
        stage["$lookup"]["from"]
        for name, body in commands
        if name == "aggregate"
        for stage in body["pipeline"]
        if "$lookup" in stage
    ]


async def test_a_past_end_joins_the_membership_history_inside_the_aggregation(stack: Stack) -> None:
    commands = await _funnel_commands(stack, await _shop(stack, cy_from_the_start=True), REPORT_END)
    assert _lookups(commands) == ["audience_changes"]
    read = {(name, body.get(name)) for name, body in commands if name in ("find", "aggregate")}
    assert read == {("find", "audiences"), ("aggregate", "events")}  # no member is loaded into Python


async def test_an_end_not_in_the_past_joins_the_current_members_by_id(stack: Stack) -> None:
    shop = await _shop(stack, cy_from_the_start=True)
    commands = await _funnel_commands(stack, shop, CHANGE, CHANGE + timedelta(days=1))
    assert _lookups(commands) == ["audience_members", "audience_members"]
