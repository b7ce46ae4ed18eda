"""Killing what a run's job processes left on this machine, found by the run's label."""

from __future__ import annotations

import os
import signal
from collections.abc import Collection

from containerops.executors.local.convert import RUN_ENV


def stop_run(run_id: str) -> int:
    """Kill (SIGKILL) every process of this machine that belongs to run ``run_id``, the
    job processes a killed coops process left and whatever they started; how many."""
    return stop_marked(RUN_ENV, [run_id])


def stop_marked(variable: str, values: Collection[str]) -> int:
    """Kill (SIGKILL) every process of this machine whose environment has ``variable=VALUE``
    for one of ``values`` (a run's mark, or the claims a worker ran jobs under); how many."""
    if not values:
        return 0
    markers = [b"\0" + f"{variable}={value}".encode() + b"\0" for value in values]
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                text = b"\0" + environ.read() + b"\0"
                if not any(marker in text for marker in markers):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return killed
