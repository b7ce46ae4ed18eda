"""A started swarm job: its service, and what a poller thread learns of its task.

One thread per job asks the manager for the service's task every
:data:`POLL_SECONDS` (and, while it runs, for its node's state every
:data:`NODE_POLL_SECONDS`), so that the log reader and the wait share one view of
when and how the job ended, and a node that dies is noticed even though its task
never reports again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import docker.errors

from containerops.executors.base import ExecutorError, ExitStatus, JobHandle, JobSpec
from containerops.executors.docker_client import ENGINE_ERRORS, explain
from containerops.executors.swarm.convert import node_lost, task_outcome

#: How often the task's state is asked for.
POLL_SECONDS = 0.2
#: How often the state of the node that runs the task is asked for.
NODE_POLL_SECONDS = 1.0
#: Node states in which a node no longer runs its tasks.
NODE_GONE = frozenset({"down", "disconnected", "unknown"})


class SwarmJobHandle(JobHandle):
    """A started job: its service, secret, and (once known) how it ended."""

    def __init__(self, spec: JobSpec, service_id: str, name: str, secret_id: str | None) -> None:
        super().__init__(spec)
        self.service_id = service_id
        self.name = name
        self.secret_id = secret_id
        #: Lines of the log already stored (an adopted attempt's): not read again.
        self.skip = 0
        #: Set once the job has ended (``outcome`` or ``error`` says how) or was destroyed.
        self.ended = threading.Event()
        self.outcome: ExitStatus | None = None
        self.error: ExecutorError | None = None
        #: The node that ran (or runs) the task, by its ID.
        self.node_id: str | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._on_end: list[Callable[[], None]] = []

    def watch(self, api: Any, node_name: Callable[[str], str]) -> None:
        """Start the poller thread (see the module doc)."""
        threading.Thread(
            target=self._poll, args=(api, node_name), name=f"coops-task-{self.name}", daemon=True
        ).start()

    def close(self) -> None:
        """Stop polling: the job is being destroyed."""
        self._closed.set()
        self._end()

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the poller's thread) once the job has ended; now if it has."""
        with self._lock:
            if not self.ended.is_set():
                self._on_end.append(callback)
                return
        callback()

    def _end(self) -> None:
        with self._lock:
            if self.ended.is_set():
                return
            self.ended.set()
            callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            callback()

    def _poll(self, api: Any, node_name: Callable[[str], str]) -> None:
        try:
            self._poll_until_ended(api, node_name)
        except Exception as exc:  # never leave a waiter waiting
            self.error = ExecutorError(f"watching job {self.spec.path} failed: {exc}")
        finally:
            self._end()

    def _poll_until_ended(self, api: Any, node_name: Callable[[str], str]) -> None:
        checked_node = 0.0
        while not self._closed.is_set():
            try:
                task = newest_task(api.tasks(filters={"service": self.service_id}))
                if task is not None:
                    self.node_id = task.get("NodeID") or self.node_id
                    outcome = task_outcome(task, self.spec.memory)
                    if (
                        outcome is None
                        and self.node_id
                        and time.monotonic() - checked_node > NODE_POLL_SECONDS
                    ):
                        checked_node = time.monotonic()
                        node = api.inspect_node(self.node_id)
                        state = (node.get("Status") or {}).get("State")
                        if state in NODE_GONE:
                            outcome = node_lost(f"its Docker Engine is {state}", node_name(self.node_id))
                    if outcome is not None:
                        self.outcome = outcome
                        break
            except docker.errors.NotFound:
                self.error = ExecutorError(f"the service of job {self.spec.path} disappeared")
                break
            except ENGINE_ERRORS as exc:
                if self._closed.is_set():
                    break
                self.error = ExecutorError(
                    f"lost the swarm manager while job {self.spec.path} ran: {explain(exc)}"
                )
                break
            self._closed.wait(POLL_SECONDS)

    def __repr__(self) -> str:
        return f"SwarmJobHandle({self.name!r}, {self.service_id[:12]})"


def newest_task(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The task that counts: the newest one (a task the swarm replaced is history)."""
    if not tasks:
        return None
    return max(
        tasks, key=lambda task: (task.get("CreatedAt") or "", (task.get("Version") or {}).get("Index", 0))
    )


def swarm_handle(handle: JobHandle) -> SwarmJobHandle:
    if not isinstance(handle, SwarmJobHandle):
        raise ExecutorError(f"not a swarm job handle: {handle!r}")
    return handle
