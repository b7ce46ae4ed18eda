"""Waiting on a condition instead of sleeping a fixed time: a loaded machine only makes it slower."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Return once ``condition()`` holds; fail saying ``what`` did not happen within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """``wait_for`` inside an event loop: the loop's other tasks go on while it waits."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
