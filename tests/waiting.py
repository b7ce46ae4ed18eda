"""Waiting on a condition instead of sleeping a fixed time: a loaded machine only makes it slower."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Return once ``condition()`` holds; fail saying ``what`` did not happen within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
