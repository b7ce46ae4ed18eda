"""The executor a run's engine uses when workers run its jobs.

``start`` puts the attempt up as a ready job (with the labels the job wants); the log is
read back as its worker streams it, and ``wait`` answers with what the worker wrote. The
engine keeps everything it does on any executor: timeouts, retries, masking, outputs,
the run's log. What only this executor can tell: a job no live worker could take (a log
line says why, once, and again whenever the reason changes), and a worker that stopped
renewing its lease (the attempt fails as "worker lost", and is retried per ``retries``;
on Docker, a swarm or Kubernetes it goes adrift instead: a worker re-attaches to its
container, service or Job, and the attempt fails as "worker lost" only if that is gone).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from datetime import timedelta

from containerops.executors.base import (
    Executor,
    ExecutorError,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
    lines_of,
)
from containerops.store import Store
from containerops.store import workers as queue
from containerops.store.reconnect import reconnecting
from containerops.store.values import aware, utcnow

log = logging.getLogger("containerops.workers")

#: How often the engine looks at the attempts workers run (seconds).
POLL = 0.1
#: How often it asks again whether any live worker could take a waiting attempt.
WAITING_CHECK = 2.0
#: How the line saying why an attempt waits begins (it is the engine's, not the job's).
WAITING = "[coops] waiting for a worker: "


def lease_seconds() -> float:
    """How long a worker's lease lasts without a heartbeat (``COOPS_LEASE_SECONDS``)."""
    setting = os.environ.get("COOPS_LEASE_SECONDS", "")
    return float(setting) if setting.replace(".", "", 1).isdigit() else queue.DEFAULT_LEASE


class QueueHandle(JobHandle):
    def __init__(self, spec: JobSpec, ready_id: int) -> None:
        super().__init__(spec)
        self.ready_id = ready_id
        self.seq = 0
        self.ended: queue.Progress | None = None


class QueueExecutor(Executor):
    """Jobs for workers: each attempt a ``ready_jobs`` row of the run's store. A worker sets
    a run's workspace up when it first runs one of its jobs, and tears it down once the run
    has ended."""

    name = "workers"
    has_side_effects = True
    #: An attempt runs on in its worker while no engine follows it (its server was killed).
    adopts = True

    def __init__(self, store: Store) -> None:
        self.store = store
        self._flows: dict[str, str] = {}
        #: The attempts being followed, and what each waits for: the next look at the store.
        self._following: dict[int, tuple[QueueHandle, asyncio.Future[queue.Progress]]] = {}
        self._looking: asyncio.Task[None] | None = None

    async def setup(self, run: RunContext) -> None:
        self._flows[run.run_id] = run.flow_uri

    async def teardown(self, run: RunContext) -> None:
        self._flows.pop(run.run_id, None)

    async def start(self, spec: JobSpec) -> JobHandle:
        # as JSON: the set of secret variables as a list (job_spec reads it back)
        body = asdict(spec) | {
            "secret_env": sorted(spec.secret_env),
            "flow_uri": self._flows.get(spec.run_id, ""),
        }
        ready_id = await asyncio.to_thread(
            reconnecting,
            queue.enqueue,
            self.store,
            spec.run_id,
            spec.path,
            spec.attempt,
            spec.node_labels,
            body,
        )
        return QueueHandle(spec, ready_id)

    async def adopt(self, spec: JobSpec, stored: Sequence[str]) -> JobHandle | None:
        """The attempt's ready job, read on after the worker's lines the run's log has
        (every stored line but the waiting reasons this executor added)."""
        store, run, path, attempt = self.store, spec.run_id, spec.path, spec.attempt
        ready_id = await asyncio.to_thread(reconnecting, queue.find_attempt, store, run, path, attempt)
        if ready_id is None:
            return None
        log.info("following %s attempt %d again (ready job %d)", spec.path, spec.attempt, ready_id)
        handle = QueueHandle(spec, ready_id)
        handle.seq = sum(1 for line in stored if not line.startswith(WAITING))
        return handle

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return lines_of(self.log_batches(handle))

    async def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        """The attempt's lines as its worker streams them, until it has ended; a waiting
        attempt's reason as a line of its own. Raises ExecutorError when the worker is lost."""
        job = _ours(handle)
        said: str | None = None
        checked = 0.0
        loop = asyncio.get_running_loop()
        while True:
            seen = await self._look(job)
            if seen.lines:
                job.seq = seen.lines[-1].seq
                yield [LogLine(line.stream, line.text, line.at) for line in seen.lines]  # type: ignore[arg-type]
            if seen.status == queue.DONE:
                job.ended = seen
                return
            if seen.status in (queue.LOST, queue.CANCELLED):
                raise ExecutorError(seen.reason or "worker lost")
            if seen.status == queue.CLAIMED and _expired(seen):
                reason = f"worker lost: {seen.worker} stopped renewing its lease"
                taken = await asyncio.to_thread(reconnecting, queue.expire, self.store, job.ready_id, reason)
                if taken == queue.LOST:
                    raise ExecutorError(reason)
                if taken == queue.ADRIFT:  # its container may run on: a worker re-attaches
                    log.warning("%s: %s; waiting for a worker to re-attach", job.spec.path, reason)
            if seen.status == queue.READY and loop.time() - checked >= WAITING_CHECK:
                checked = loop.time()
                why = await asyncio.to_thread(
                    reconnecting, queue.waiting_reason, self.store, job.spec.node_labels, lease_seconds()
                )
                if why is not None and why != said:
                    yield [LogLine("stderr", f"{WAITING}{why}", utcnow())]
                said = why

    async def _look(self, job: QueueHandle) -> queue.Progress:
        """The attempt as the next look at the store finds it. One task looks for every
        attempt this executor follows, in two queries, every ``POLL`` seconds."""
        future: asyncio.Future[queue.Progress] = asyncio.get_running_loop().create_future()
        self._following[job.ready_id] = (job, future)
        looking = self._looking
        if looking is None or looking.done() or looking.get_loop() is not asyncio.get_running_loop():
            self._looking = asyncio.create_task(self._look_for_all())
        try:
            return await future
        finally:
            self._following.pop(job.ready_id, None)

    async def _look_for_all(self) -> None:
        while self._following:
            await asyncio.sleep(POLL)
            waiting = dict(self._following)
            try:
                found = await asyncio.to_thread(
                    reconnecting,
                    queue.progress_of,
                    self.store,
                    {key: job.seq for key, (job, _) in waiting.items()},
                )
            except Exception as error:  # away longer than an outage, or not a disconnect: the followers wait
                log.warning("cannot read the progress of jobs on workers (trying again): %s", error)
                continue
            for key, (_, future) in waiting.items():
                if not future.done() and key in found:
                    future.set_result(found[key])

    async def wait(self, handle: JobHandle) -> ExitStatus:
        job = _ours(handle)
        while job.ended is None:  # the engine reads the log to its end first: this is a fallback
            async for _ in self.log_batches(handle):
                pass
        ended = job.ended
        if ended.exit_code is None:  # the worker could not start it
            raise ExecutorError(ended.reason or "the worker could not run the job")
        return ExitStatus(ended.exit_code, ended.oom_killed, ended.reason)

    async def output_file(self, handle: JobHandle) -> bytes | None:
        ended = _ours(handle).ended
        return None if ended is None else ended.output_file

    async def destroy(self, handle: JobHandle) -> None:
        job = _ours(handle)
        if job.ended is not None and job.ended.status == queue.DONE:
            return  # its worker writes nothing more; its lines go when the run's end is stored
        reason = "cancelled: the run's engine stopped waiting for it"
        await asyncio.to_thread(reconnecting, queue.withdraw, self.store, job.ready_id, reason)


def _expired(seen: queue.Progress) -> bool:
    until = aware(seen.lease_until)
    return until is not None and utcnow() > until + timedelta(seconds=0.5)


def _ours(handle: JobHandle) -> QueueHandle:
    if not isinstance(handle, QueueHandle):
        raise TypeError(f"not a worker job's handle: {handle!r}")
    return handle
