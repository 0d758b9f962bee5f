"""The write path as a service: bounded database work per batch, concurrent batches on shared
customers, poison messages, idempotency of every message type."""

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.domain.rescoring import rescored
from server.domain.scoring import EMPTY_STATE
from server.storage.events import of_doc as event_of_doc
from server.storage.profiles import of_doc as profile_of_doc
from tests.factories import ALL_GRANTED, ago, iso, track
from tests.services.conftest import Stack

NON_ACTION = [
    "product_viewed",
    "category_browsed",
    "product_image_zoomed",
    "size_guide_viewed",
    "product_added",
]


def _batch(count: int, profiles: int, seed: int, *, span_days: float = 20) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        track(
            rng.choice(NON_ACTION),
            anonymous_id=f"anon-{rng.randrange(profiles)}",
            at=ago(minutes=rng.uniform(1, span_days * 24 * 60)),
            properties={"category": rng.choice(["shoes", "hats", "bags"])},
            context={"page": {"url": "https://shop.example/p?utm_medium=email"}, "ip": "203.0.113.9"},
        )
        for _ in range(count)
    ]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def _known(stack: Stack, profiles: int) -> None:
    """The customers' first visit (and consent), before every event of the batches that follow."""
    first = [track(anonymous_id=f"anon-{i}", at=ago(days=21)) for i in range(profiles)]
    await stack.services.ingest.ingest(stack.ingest, first)


async def test_a_batch_of_500_events_over_50_known_profiles_takes_six_commands(stack: Stack) -> None:
    ingest = stack.services.ingest
    await _known(stack, 50)
    stack.log.recording = True
    result = await ingest.ingest(stack.ingest, _batch(500, 50, seed=1))
    stack.log.recording = False
    assert result.accepted == 500
    names = [name for name, _ in stack.commands()]
    assert len(names) <= 6, names
    assert names.count("commitTransaction") == 1


async def test_every_filter_of_a_batch_is_an_id_lookup_or_an_indexed_in(stack: Stack) -> None:
    ingest = stack.services.ingest
    stack.log.recording = True
    await ingest.ingest(stack.ingest, [track(anonymous_id=f"anon-{i}") for i in range(50)])
    await ingest.ingest(stack.ingest, _batch(500, 50, seed=2))
    stack.log.recording = False
    shapes = {
        (body["find"], tuple(sorted(body["filter"]))) for name, body in stack.commands() if name == "find"
    }
    assert shapes <= {
        ("identities", ("_id",)),
        ("profiles", ("_id",)),
        ("events", ("message_id", "workspace_id")),  # the unique index (workspace_id, message_id)
        ("taxonomy", ("workspace_id",)),  # the workspace's own event definitions, cached for 5 s
        ("audiences", ("workspace_id",)),  # the definitions audience upkeep needs, cached for 5 s
        ("workspaces", ("_id",)),
    }, shapes
    updates = [u["q"] for name, body in stack.commands() if name == "update" for u in body["updates"]]
    assert all(set(q) <= {"_id", "suppressed_at"} for q in updates), updates


async def test_the_commands_of_a_batch_do_not_grow_with_its_size(stack: Stack) -> None:
    ingest = stack.services.ingest
    await _known(stack, 50)
    counts = []
    for size, seed in ((20, 3), (500, 4)):
        stack.log.seen.clear()
        stack.log.recording = True
        await ingest.ingest(stack.ingest, _batch(size, 50, seed=seed))
        stack.log.recording = False
        counts.append(len(stack.commands()))
    assert counts[0] == counts[1]


async def test_concurrent_batches_on_shared_customers_store_every_event_once(stack: Stack) -> None:
    batches = [_batch(100, 20, seed=10 + n) for n in range(8)]
    results = await asyncio.gather(*(stack.services.ingest.ingest(stack.ingest, b) for b in batches))
    assert sum(r.accepted for r in results) == 800
    assert await stack.db["events"].count_documents({}) == 800
    assert await stack.db["profiles"].count_documents({}) == 20


async def test_after_concurrent_batches_every_profiles_scores_equal_a_recompute(stack: Stack) -> None:
    batches = [_batch(100, 10, seed=20 + n) for n in range(8)]
    await asyncio.gather(*(stack.services.ingest.ingest(stack.ingest, b) for b in batches))
    workspace = await stack.services.workspaces.get(stack.ingest)
    now = datetime.now(UTC)
    async for doc in stack.db["profiles"].find({}):
        profile = profile_of_doc(doc)
        events = [event_of_doc(e) async for e in stack.db["events"].find({"profile_id": profile.id})]
        expected = rescored(profile, events, workspace, now)
        assert profile.scores != EMPTY_STATE
        assert profile.scores.journey_phase == expected.scores.journey_phase
        assert profile.scores.engagement.ref == expected.scores.engagement.ref
        assert profile.scores.engagement.total == pytest.approx(expected.scores.engagement.total, rel=1e-6)
        assert profile.scores.journey.total == pytest.approx(expected.scores.journey.total, rel=1e-6)


async def test_one_process_writes_concurrent_batches_without_a_retried_transaction(stack: Stack) -> None:
    stack.log.recording = True
    batches = [_batch(50, 5, seed=30 + n) for n in range(8)]
    await asyncio.gather(*(stack.services.ingest.ingest(stack.ingest, b) for b in batches))
    stack.log.recording = False
    names = [name for name, _ in stack.commands()]
    assert names.count("abortTransaction") == 0
    # Batches that arrive together are written together: fewer transactions than batches.
    assert names.count("commitTransaction") < len(batches)


@pytest.mark.parametrize(
    ("poison", "code"),
    [
        ({"properties": {"bad\x00key": 1}}, "INVALID_KEY"),
        ({"traits": {"$where": "1"}}, "INVALID_KEY"),
        ({"properties": {"n": 2**64}}, "NUMBER_OUT_OF_RANGE"),
        ({"properties": {"revenue": float("inf")}}, "NOT_FINITE"),
        ({"properties": {"revenue": float("nan")}}, "NOT_FINITE"),
        ({"properties": {"deep": _nested(40)}}, "TOO_DEEP"),
    ],
)
async def test_a_poison_message_is_refused_by_index_and_its_batch_stored(
    stack: Stack, poison: dict[str, Any], code: str
) -> None:
    batch = [track(), {**track(), **poison}, track()]
    result = await stack.services.ingest.ingest(stack.ingest, batch)
    assert result.accepted == 2
    assert [(r.index, r.code) for r in result.rejected] == [(1, code)]


async def test_a_poison_message_names_no_key_the_caller_sent(stack: Stack) -> None:
    result = await stack.services.ingest.ingest(
        stack.ingest, [{**track(), "properties": {"ana@x.io\x00": 1}}]
    )
    assert "ana@x.io" not in result.rejected[0].message
    assert result.rejected[0].field == "properties"


async def test_a_resent_identify_is_a_duplicate(stack: Stack) -> None:
    identify = {
        "type": "identify",
        "messageId": "id-1",
        "userId": "u1",
        "anonymousId": "a1",
        "traits": {"plan": "gold"},
    }
    first = await stack.services.ingest.ingest(stack.ingest, [identify])
    again = await stack.services.ingest.ingest(stack.ingest, [identify])
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
    assert await stack.db["receipts"].count_documents({}) == 1


async def test_a_resent_alias_is_a_duplicate(stack: Stack) -> None:
    alias = {"type": "alias", "messageId": "al-1", "userId": "u1", "previousId": "a1"}
    first = await stack.services.ingest.ingest(stack.ingest, [alias])
    again = await stack.services.ingest.ingest(stack.ingest, [alias])
    assert (first.accepted, again.duplicates) == (1, 1)


async def test_fifty_concurrent_copies_of_an_identify_store_it_once(stack: Stack) -> None:
    identify = {"type": "identify", "messageId": "id-2", "userId": "u2", "traits": {"plan": "gold"}}
    results = await asyncio.gather(
        *(stack.services.ingest.ingest(stack.ingest, [identify]) for _ in range(50))
    )
    assert sum(r.accepted for r in results) == 1
    assert sum(r.duplicates for r in results) == 49
    assert await stack.db["profiles"].count_documents({}) == 1


async def test_concurrent_first_messages_of_one_new_customer_make_one_profile(stack: Stack) -> None:
    batches = [[track(anonymous_id="fresh")] for _ in range(10)]
    await asyncio.gather(*(stack.services.ingest.ingest(stack.ingest, b) for b in batches))
    assert await stack.db["profiles"].count_documents({}) == 1
    assert await stack.db["events"].count_documents({}) == 10


async def test_an_event_past_its_retention_on_arrival_is_counted_expired(stack: Stack) -> None:
    old = track("order_completed", at=datetime.now(UTC) - timedelta(days=400), properties={"revenue": 5})
    result = await stack.services.ingest.ingest(stack.ingest, [old, track()])
    assert (result.accepted, result.expired) == (1, 1)


async def test_consent_arriving_with_a_back_filled_event_takes_effect_at_the_events_time(
    stack: Stack,
) -> None:
    at = ago(days=60)
    await stack.services.ingest.ingest(stack.ingest, [track(anonymous_id="late", at=at, consent=ALL_GRANTED)])
    entry = await stack.db["consent_ledger"].find_one({"purpose": "analytics"})
    assert abs((entry["effective_at"] - at).total_seconds()) < 0.01
    assert entry["at"] > at + timedelta(days=59)


async def test_message_ids_are_not_needed_for_iso_timestamps(stack: Stack) -> None:
    message = {
        "type": "track",
        "event": "product_viewed",
        "anonymousId": "t",
        "timestamp": iso(ago(minutes=3)),
    }
    message["context"] = {"consent": {"categoryPreferences": ALL_GRANTED}}
    first = await stack.services.ingest.ingest(stack.ingest, [message])
    again = await stack.services.ingest.ingest(stack.ingest, [message])
    assert (first.accepted, again.duplicates) == (1, 1)
