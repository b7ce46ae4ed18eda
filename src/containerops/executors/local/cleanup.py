"""Killing what a run's job processes left on this machine, found by the run's label."""

from __future__ import annotations

import os
import signal

from containerops.executors.local.convert import RUN_ENV


def stop_run(run_id: str) -> int:
    """Kill (SIGKILL) every process of this machine that belongs to run ``run_id``, the
    job processes a killed coops process left and whatever they started; how many."""
    return stop_marked(RUN_ENV, run_id)


def stop_marked(variable: str, value: str) -> int:
    """Kill (SIGKILL) every process of this machine whose environment has ``variable=value``
    (a run's mark, or the claim a worker ran a job under); how many."""
    marker = b"\0" + f"{variable}={value}".encode() + b"\0"
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if marker not in b"\0" + environ.read() + b"\0":
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return killed
