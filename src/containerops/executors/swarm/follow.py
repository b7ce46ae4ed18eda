"""Following a swarm job's log stream (``GET /services/{id}/logs``) from worker threads.

The manager relays the lines of the task's container from whichever node runs it, in
the same frames as a container's log (:mod:`..docker.logs` decodes them), and the same
follower reads them (:class:`..docker.follow.LogFollower`). Unlike a container's, a
service's followed stream never ends when its task does: once the handle's poller says
the task has ended and the stream has been silent for :data:`LOG_IDLE_AFTER_END`, the
follower cuts it, and an unfollowed read from the newest timestamp seen fetches what
the relay had not delivered yet, none twice.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

from containerops.executors.base import ExecutorError, LogLine
from containerops.executors.docker.follow import LogFollower, follow_stream, open_stream, since_parameter
from containerops.executors.docker_client import ENGINE_ERRORS
from containerops.executors.swarm.handle import SwarmJobHandle

#: Seconds the stream may stay silent after the task ended before it is cut.
LOG_IDLE_AFTER_END = 0.2


def follow_service_logs(api: Any, job: SwarmJobHandle) -> AsyncIterator[list[LogLine]]:
    """Every line of ``job``'s task, in batches, until the job has ended."""
    return follow_stream(
        lambda: open_service_logs(api, job),
        lambda response, put, stop: LogFollower(
            response,
            put,
            stop,
            name=job.name,
            path=job.spec.path,
            until_ended=lambda ended: _until_ended(job, ended),
            catch_up=lambda newest: catch_up(api, job, newest),
            idle=LOG_IDLE_AFTER_END,
        ),
    )


def open_service_logs(api: Any, job: SwarmJobHandle, since: str | None = None) -> Any:
    url = api._url("/services/{0}/logs", job.service_id)
    return open_stream(api, url, since, f"service of job {job.spec.path}")


def catch_up(api: Any, job: SwarmJobHandle, newest: bytes) -> bytes:
    """The entries from timestamp ``newest`` on, read once the task has ended."""
    job.ended.wait()
    since = since_parameter(newest)
    if since is None:
        return b""
    try:
        return bytes(open_service_logs(api, job, since=since).content)
    except (ExecutorError, *ENGINE_ERRORS):
        return b""  # the service is gone (cancelled): what was read is all there is


def _until_ended(job: SwarmJobHandle, done: threading.Event) -> None:
    while not job.ended.wait(0.5):
        if done.is_set():
            return
