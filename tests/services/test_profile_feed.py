"""The process's one change stream, against the real database: a failure loses no change."""

import asyncio
import logging

from server.domain.profile import Profile
from server.services.profile_feed import ProfileFeed
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


async def test_a_change_made_while_the_stream_is_down_arrives_once_it_resumes(stack: Stack) -> None:
    profiles = stack.db["profiles"]
    await profiles.insert_one(to_doc("w1", Profile(id="p1", user_id="before"), None))
    feed = ProfileFeed(Profiles(stack.db), per_key=10, restart_delay=RESTART_DELAY)
    async with feed.subscribe(stack.admin, "p1") as changes:
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
