"""The process's one writer: how a unit is split on a sharded cluster, and shedding when too much waits."""

import asyncio
from datetime import UTC, datetime

from server.domain.access import Principal, Role
from server.domain.errors import Overloaded
from server.domain.ingest import TransactionScope
from server.domain.message import Identifiers, Message
from server.domain.profile import Profile
from server.services.ingest_unit import Submission
from server.services.ingest_writer import per_customer
from server.wiring import Services
from tests.factories import track
from tests.services.conftest import Stack

PRINCIPAL = Principal("w1", Role.INGEST, "k")


def _message(index: int, *hashes: str) -> Message:
    return Message(
        index=index,
        type="track",
        message_id=f"m{index}",
        at=datetime.now(UTC),
        user_id=None,
        anonymous_id=None,
        previous_id=None,
        group_id=None,
        decisions=(),
        policy_version=None,
        traits={},
        behaviour=None,
        ids=Identifiers(user=hashes[0], anonymous=hashes[1] if len(hashes) > 1 else None),
    )


def test_messages_sharing_an_identifier_stay_in_one_customers_part() -> None:
    first = Submission(PRINCIPAL, [_message(0, "u1", "a1"), _message(1, "u2")])
    second = Submission(PRINCIPAL, [_message(0, "u3", "a1"), _message(1, "u2", "a9")])
    parts = per_customer([first, second])
    grouped = sorted(sorted((origin, [m.index for m in s.messages]) for origin, s in part) for part in parts)
    assert grouped == [[(0, [0]), (1, [0])], [(0, [1]), (1, [1])]]


async def test_per_customer_transactions_store_concurrent_batches_once(stack: Stack) -> None:
    services = Services.build(stack.db, stack.keyring, transaction_scope=TransactionScope.CUSTOMER)
    batches = [[track(anonymous_id=f"shopper-{(n + k) % 6}") for k in range(30)] for n in range(6)]
    results = await asyncio.gather(*(services.ingest.ingest(stack.ingest, b) for b in batches))
    assert sum(r.accepted for r in results) == 180
    assert await stack.db["events"].count_documents({}) == 180
    assert await stack.db["profiles"].count_documents({}) == 6


async def test_more_than_the_writer_queues_is_shed_at_once(stack: Stack) -> None:
    writer = stack.services.ingest._writer
    writer._max_queued = 100
    batches = [[track(anonymous_id=f"s-{n}-{k}") for k in range(60)] for n in range(4)]
    results = await asyncio.gather(
        *(stack.services.ingest.ingest(stack.ingest, b) for b in batches), return_exceptions=True
    )
    shed = [r for r in results if isinstance(r, Overloaded)]
    assert shed
    assert all(r.retry_after == 1 for r in shed)
    stored = sum(r.accepted for r in results if not isinstance(r, BaseException))
    assert await stack.db["events"].count_documents({}) == stored


async def test_callers_are_answered_once_the_upkeep_of_their_unit_is_done(stack: Stack) -> None:
    writer = stack.services.ingest._writer
    done: list[str] = []

    async def upkeep(workspace_id: str, profiles: list[Profile]) -> None:
        await asyncio.sleep(0.05)
        done.extend(p.id for p in profiles)

    writer._changed = upkeep
    await stack.services.ingest.ingest(stack.ingest, [track(anonymous_id="waits-for-upkeep")])
    assert len(done) == 1


async def test_an_upkeep_that_fails_never_fails_the_next_unit(stack: Stack) -> None:
    writer = stack.services.ingest._writer

    async def broken(workspace_id: str, profiles: list[Profile]) -> None:
        raise RuntimeError("upkeep bug")

    writer._changed = broken
    first = await stack.services.ingest.ingest(stack.ingest, [track(anonymous_id="first")])
    second = await stack.services.ingest.ingest(stack.ingest, [track(anonymous_id="second")])
    assert (first.accepted, second.accepted, second.rejected) == (1, 1, [])
    assert await stack.db["events"].count_documents({}) == 2
