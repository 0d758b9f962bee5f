import asyncio

import pytest

from server.metrics import REGISTRY
from server.services.background import supervise


def _restarts(task: str) -> float:
    return REGISTRY.get_sample_value("granular_background_restarts_total", {"task": task}) or 0.0


async def test_a_background_task_that_dies_is_restarted() -> None:
    runs: list[int] = []
    went_on = asyncio.Event()

    async def evaluator() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise OSError("Too many open files")
        went_on.set()
        await asyncio.Event().wait()  # alive from now on

    before = _restarts("test-dies")
    supervisor = asyncio.create_task(supervise("test-dies", evaluator, restart_delay=0))
    await asyncio.wait_for(went_on.wait(), timeout=10)
    supervisor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await supervisor
    assert len(runs) == 2
    assert _restarts("test-dies") == before + 1


async def test_a_background_task_that_returns_is_restarted_too() -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def sweep() -> None:
        runs.append(1)
        if len(runs) == 3:
            third.set()
            await asyncio.Event().wait()

    supervisor = asyncio.create_task(supervise("test-returns", sweep, restart_delay=0))
    await asyncio.wait_for(third.wait(), timeout=10)
    supervisor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await supervisor
    assert len(runs) == 3


async def test_the_supervisor_logs_the_class_and_never_the_message(caplog: pytest.LogCaptureFixture) -> None:
    died = asyncio.Event()

    async def leaky() -> None:
        if not died.is_set():
            died.set()
            raise ValueError("ana@example.com")
        await asyncio.Event().wait()

    supervisor = asyncio.create_task(supervise("test-leaky", leaky, restart_delay=0))
    await asyncio.wait_for(died.wait(), timeout=10)
    await asyncio.sleep(0.05)
    supervisor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await supervisor
    assert "ValueError" in caplog.text
    assert "ana@" not in caplog.text
