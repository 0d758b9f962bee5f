"""`kill -9` of the server in the middle of concurrent ingest, with clients that retry as Segment's do:
after a restart nothing is lost, nothing is doubled, and every profile's scores equal a recompute."""

import asyncio
import random
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from server.domain.rescoring import rescored
from server.domain.workspace import WorkspaceSettings
from server.storage.embedded import EmbeddedDatabase, free_port
from server.storage.events import of_doc as event_of_doc
from server.storage.profiles import of_doc as profile_of_doc
from tests.factories import ago, track
from tests.test_cli import KEY, Served, _wait_gone

CLIENTS, BATCHES, SIZE = 4, 12, 100
NON_ACTION = ["product_viewed", "category_browsed", "product_image_zoomed", "size_guide_viewed"]


def _batches(client: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(client)
    return [
        [
            track(
                rng.choice(NON_ACTION),
                anonymous_id=f"shopper-{rng.randrange(40)}",
                at=ago(minutes=rng.uniform(1, 20 * 24 * 60)),
                properties={"category": rng.choice(["shoes", "hats"])},
                message_id=f"c{client}-b{b}-m{m}",
            )
            for m in range(SIZE)
        ]
        for b in range(BATCHES)
    ]


async def _send(url: str, batches: list[list[dict[str, Any]]], acknowledged: asyncio.Queue[int]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for batch in batches:
            while True:  # retried until acknowledged, as Segment's libraries do
                try:
                    response = await http.post(
                        url + "/v1/batch", json={"batch": batch}, headers={"Authorization": f"Bearer {KEY}"}
                    )
                    if response.status_code == 200:
                        acknowledged.put_nowait(1)
                        break
                    assert response.status_code >= 500 or response.status_code == 429, response.text
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)


async def _kill_mid_stream(
    served: Served, senders: asyncio.Future[Any], acknowledged: asyncio.Queue[int]
) -> Served:
    for _ in range(CLIENTS):  # a few batches in, most still to come
        await acknowledged.get()
    served.stop(signal.SIGKILL)
    assert await asyncio.to_thread(_wait_gone, served.data_dir) == []
    restarted = Served(served.data_dir, served.port)
    await asyncio.to_thread(restarted.wait_ready)
    await senders
    return restarted


@pytest.mark.slow
async def test_a_server_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    served = Served(tmp_path / "granular", free_port())
    await asyncio.to_thread(served.wait_ready)
    try:
        acknowledged: asyncio.Queue[int] = asyncio.Queue()
        senders = asyncio.gather(*(_send(served.url, _batches(c), acknowledged) for c in range(CLIENTS)))
        served = await _kill_mid_stream(served, senders, acknowledged)
        assert served.stop() == 0
        assert await asyncio.to_thread(_wait_gone, served.data_dir) == []
    finally:
        if served.process.poll() is None:
            served.process.kill()
    database = EmbeddedDatabase(served.data_dir / "data")
    database.start()
    client: AsyncMongoClient[Any] = AsyncMongoClient(database.uri, tz_aware=True)
    try:
        db = client["granular"]
        ids = [doc["message_id"] async for doc in db["events"].find({}, {"message_id": 1})]
        assert len(ids) == len(set(ids)) == CLIENTS * BATCHES * SIZE
        now, workspace = datetime.now(UTC), WorkspaceSettings(id="default")
        async for doc in db["profiles"].find({"merged_into": None}):
            profile = profile_of_doc(doc)
            events = [event_of_doc(e) async for e in db["events"].find({"profile_id": profile.id})]
            expected = rescored(profile, events, workspace, now).scores
            assert profile.scores.engagement.total == pytest.approx(expected.engagement.total, rel=1e-9)
            assert profile.scores.journey.total == pytest.approx(expected.journey.total, rel=1e-9)
    finally:
        await client.close()
        database.stop()
