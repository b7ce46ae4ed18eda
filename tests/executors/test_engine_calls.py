"""EngineCalls' undo of a creation whose caller was cancelled: no daemon needed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from containerops.executors.docker.calls import EngineCalls


def test_a_cancelled_caller_hands_what_the_call_made_to_undo() -> None:
    calls = EngineCalls("test-calls")
    release = threading.Event()
    undone: list[str] = []

    def create() -> str:
        release.wait(10)
        return "container-1"

    async def scenario() -> None:
        task = asyncio.create_task(calls.call_or_undo(create, undone.append))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert undone == []  # the creation has not ended yet
        release.set()
        for _ in range(100):
            if undone:
                break
            await asyncio.sleep(0.02)

    try:
        asyncio.run(scenario())
    finally:
        calls.close()
    assert undone == ["container-1"]


def test_a_call_that_ends_normally_is_not_undone() -> None:
    calls = EngineCalls("test-calls")
    undone: list[int] = []
    try:
        assert asyncio.run(calls.call_or_undo(lambda: 7, undone.append)) == 7
    finally:
        calls.close()
    assert undone == []
