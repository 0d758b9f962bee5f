"""The process's one change stream per collection, against the real database: a failure loses no
change, a slow subscriber holds bounded memory, and a key's subscriptions are capped across feeds."""

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from server.domain.audience import MembershipChange
from server.domain.errors import Overloaded
from server.domain.profile import Profile
from server.services import change_feed
from server.services.change_feed import ChangeFeed, SubscriptionQuota
from server.storage.audiences import Audiences
from server.storage.profiles import Profiles, to_doc
from tests.services.conftest import Stack

RESTART_DELAY = 3.0


class _Logged(logging.Handler):
    """Set once a record mentioning `text` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def _profile_feed(stack: Stack, quota: SubscriptionQuota, restart_delay: float = 1.0) -> ChangeFeed[Profile]:
    return ChangeFeed(
        "profile_feed",
        Profiles(stack.db).change_feed,
        quota,
        subject=lambda profile: profile.id,
        item=lambda profile: profile.id,
        restart_delay=restart_delay,
    )


async def test_a_change_made_while_the_stream_is_down_arrives_once_it_resumes(stack: Stack) -> None:
    profiles = stack.db["profiles"]
    await profiles.insert_one(to_doc("w1", Profile(id="p1", user_id="before"), None))
    feed = _profile_feed(stack, SubscriptionQuota(10), restart_delay=RESTART_DELAY)
    async with feed.subscribe(stack.admin, "p1", field="profileId") as changes:
        # The stream's next wait for changes fails with an error the driver does not resume from.
        await stack.db.client.admin.command(
            "configureFailPoint",
            "failCommand",
            mode={"times": 1},
            data={"failCommands": ["getMore"], "errorCode": 11601},
        )
        failed = _Logged("profile_feed")
        logging.getLogger("granular.background").addHandler(failed)
        try:
            async with asyncio.timeout(RESTART_DELAY):
                await failed.seen.wait()
        finally:
            logging.getLogger("granular.background").removeHandler(failed)
        await profiles.update_one({"_id": "p1"}, {"$set": {"user_id": "while-down"}})
        async with asyncio.timeout(RESTART_DELAY + 5):
            changed = await anext(changes)
    assert changed.user_id == "while-down"


NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _audience_feed(stack: Stack, quota: SubscriptionQuota) -> ChangeFeed[MembershipChange]:
    return ChangeFeed(
        "audience_feed",
        Audiences(stack.db).change_feed,
        quota,
        subject=lambda change: change.audience_id,
        item=lambda change: change.profile_id,
    )


async def test_a_slow_subscriber_gets_each_profiles_latest_change_in_order(stack: Stack) -> None:
    store = Audiences(stack.db)
    feed = _audience_feed(stack, SubscriptionQuota(10))
    async with feed.subscribe(stack.admin, "a1", field="audienceId") as changes:
        await store.apply("w1", [("a1", "p1")], [], NOW)
        await store.apply("w1", [("a1", "p2"), ("a2", "p3")], [], NOW)
        await store.apply("w1", [], [("a1", "p1")], NOW)
        await asyncio.sleep(1.0)  # all three reach the subscriber before it reads
        async with asyncio.timeout(10):
            seen = [await anext(changes), await anext(changes)]
    assert [(c.profile_id, c.entered) for c in seen] == [("p2", True), ("p1", False)]


async def test_an_erased_member_is_pushed_as_an_exit(stack: Stack) -> None:
    store = Audiences(stack.db)
    await store.apply("w1", [("a1", "p1")], [], NOW)
    feed = _audience_feed(stack, SubscriptionQuota(10))
    async with feed.subscribe(stack.admin, "a1", field="audienceId") as changes:
        await store.forget_profiles("w1", ["p1"])  # erasure: no history row is left to tell of it
        async with asyncio.timeout(10):
            left = await anext(changes)
    assert (left.audience_id, left.profile_id, left.entered) == ("a1", "p1", False)


async def test_a_subscriber_too_far_behind_is_ended_with_a_code(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(change_feed, "MAX_PENDING", 2)
    store = Audiences(stack.db)
    feed = _audience_feed(stack, SubscriptionQuota(10))
    async with feed.subscribe(stack.admin, "a1", field="audienceId") as changes:
        await store.apply("w1", [("a1", "p1"), ("a1", "p2"), ("a1", "p3")], [], NOW)
        await asyncio.sleep(1.0)
        with pytest.raises(Overloaded) as refused:
            async with asyncio.timeout(10):
                await anext(changes)
    assert refused.value.code == "TOO_FAR_BEHIND"


async def test_a_keys_subscriptions_are_capped_across_feeds(stack: Stack) -> None:
    quota = SubscriptionQuota(1)
    profiles = _profile_feed(stack, quota)
    async with profiles.subscribe(stack.admin, "p1", field="profileId"):
        with pytest.raises(Overloaded) as refused:
            async with _audience_feed(stack, quota).subscribe(stack.admin, "a1", field="audienceId"):
                pass
    assert (refused.value.code, refused.value.field) == ("TOO_MANY_SUBSCRIPTIONS", "audienceId")
