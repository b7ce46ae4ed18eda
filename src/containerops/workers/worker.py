"""``coops worker``: claim ready jobs whose labels this worker has, run them on a real
executor, stream their lines back and say how they ended, all under a lease.

A heartbeat renews the leases every second; one the worker no longer holds (it expired
while the worker was stalled, or the run's engine cancelled the attempt) is stopped at
once: its container or process is destroyed, and whatever it still prints is dropped, as
the store would refuse it anyway (the fence). A worker stopped gracefully gives its jobs
back as lost (the engines retry them per ``retries``); one killed with -9 loses them when
its leases expire, or at once when it starts again under the same name. On Docker, a
swarm or Kubernetes its jobs run on: those attempts go adrift, and a worker of the same
executor (on the same machine for Docker; anywhere for a cluster) claims each again under a
new fence, finds its container, service or Job by its labels and carries on streaming its
lines after those stored, then records how it ended; only when that is gone does the
attempt fail as "worker lost".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from functools import partial
from typing import Any

from containerops.executors.base import Executor, ExecutorError, JobHandle, JobSpec, RunContext
from containerops.store import Store
from containerops.store import workers as queue
from containerops.store.ownership import this_process
from containerops.store.reconnect import disconnected, reconnecting
from containerops.workers.leftovers import marked, stop_claims
from containerops.workers.wake import Wake

log = logging.getLogger("containerops.worker")

SPEC_FIELDS = frozenset(JobSpec.__dataclass_fields__)


class Worker:
    """One worker process's loop: ``slots`` jobs at once, on ``executor``."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        name: str,
        labels: Mapping[str, str] | None = None,
        slots: int = 1,
        lease: float = queue.DEFAULT_LEASE,
    ) -> None:
        if slots < 1:
            raise ValueError("a worker needs at least one slot")
        self.store = store
        self.executor = executor
        self.name = name
        self.labels = dict(labels or {})
        self.slots = slots
        self.lease = lease
        self._jobs: dict[int, tuple[queue.Claim, asyncio.Task[None]]] = {}
        self._runs: dict[str, RunContext] = {}
        self._free = asyncio.Event()
        self._wake = Wake(store, name)
        #: Set once the worker is registered: from then on it counts as live.
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then stop the jobs still running and give them back."""
        # what this name's earlier process left running stops before its jobs are let go
        reattach = self.executor.name in queue.REATTACHING  # its jobs' containers outlive it
        left = await asyncio.to_thread(queue.left_behind, self.store, self.name, reattach=reattach)
        await asyncio.to_thread(stop_claims, self.executor.name, left)
        await asyncio.to_thread(queue.cleared, self.store, left)
        await asyncio.to_thread(
            queue.register,
            self.store,
            self.name,
            labels=self.labels,
            slots=self.slots,
            executor=self.executor.name,
            process=this_process(),
        )
        self.started.set()
        log.info("worker %s started: %d slot(s), labels %s", self.name, self.slots, self.labels or "none")
        beating = asyncio.create_task(self._heartbeats())
        wake = self._wake
        await wake.open()
        try:
            while not stop.is_set():
                if len(self._jobs) >= self.slots:
                    self._free.clear()
                    await _first(self._free.wait(), stop.wait())
                    continue
                free = self.slots - len(self._jobs)
                wake.claiming()
                try:  # as many as there are free slots, in one claim
                    claims = await self._claim(reattach, free)
                except Exception as error:
                    _complain("could not claim a job", error)
                    claims = []
                wake.found(len(claims))
                for claim in claims:
                    log.info("claimed %s attempt %d (ready job %d)", claim.path, claim.attempt, claim.id)
                    self._jobs[claim.id] = (claim, asyncio.create_task(self._run_one(claim)))
                # Fewer than asked: none was left ready, so wait to be woken rather than ask
                # again at once (with NOTIFY, every worker asks at each job put up). One
                # re-attached job says nothing of the others: look again.
                if len(claims) < free and not any(claim.reattach for claim in claims):
                    await _first(wake.idle(), stop.wait())
        finally:
            beating.cancel()
            await wake.close()
            for _, task in list(self._jobs.values()):
                task.cancel()
            await asyncio.gather(*(task for _, task in self._jobs.values()), return_exceptions=True)
            await asyncio.to_thread(queue.stopped, self.store, self.name)
            for run in list(self._runs.values()):
                await self._teardown(run)
            log.info("worker %s stopped", self.name)

    async def _claim(self, reattach: bool, free: int) -> list[queue.Claim]:
        """An attempt gone adrift that this worker can follow again first (its container or
        service waits), else as many ready ones as there are ``free`` slots."""
        if reattach:
            host = socket.gethostname()
            adrift = await asyncio.to_thread(
                queue.claim_adrift,
                self.store,
                self.name,
                self.labels,
                executor=self.executor.name,
                host=host,
                lease=self.lease,
            )
            if adrift is not None:
                return [adrift]
        return await asyncio.to_thread(queue.claim_many, self.store, self.name, self.labels, free, self.lease)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(queue.HEARTBEAT_EVERY)
            held = {claim.id: claim.fence for claim, _ in self._jobs.values()}
            try:
                kept = await asyncio.to_thread(queue.heartbeat, self.store, self.name, held, self.lease)
                ended = await asyncio.to_thread(queue.finished_runs, self.store, list(self._runs))
                if self._wake.listening:  # who is first for which attempt put up
                    self._wake.workers(await asyncio.to_thread(queue.live_names, self.store, self.lease))
            except Exception as error:
                _complain("heartbeat failed", error)
                continue
            for ready_id in set(held) - kept:
                entry = self._jobs.get(ready_id)
                if entry is not None:
                    log.warning("lost the lease of %s: stopping it", entry[0].path)
                    entry[1].cancel()
            busy = {claim.spec.get("run_id") for claim, _ in self._jobs.values()}
            for uid in ended - busy:
                await self._teardown(self._runs[uid])

    async def _teardown(self, run: RunContext) -> None:
        self._runs.pop(run.run_id, None)
        with contextlib.suppress(Exception):
            await self.executor.teardown(run)

    async def _run_one(self, claim: queue.Claim) -> None:
        try:
            await self._execute(claim)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a bug or a lost database: the lease runs out, the engine retries
            log.exception("job %s failed in the worker", claim.path)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    reconnecting, queue.finish, self.store, claim, exit_code=None, reason=str(error)
                )
        finally:
            self._jobs.pop(claim.id, None)
            self._free.set()
            with contextlib.suppress(Exception):  # else the next start of this worker looks for it
                await asyncio.to_thread(queue.cleared, self.store, [claim.id])

    async def _execute(self, claim: queue.Claim) -> None:
        spec = marked(job_spec(claim.spec), claim.id, self.name)
        if spec.run_id not in self._runs:
            run = RunContext(run_id=spec.run_id, flow_uri=str(claim.spec.get("flow_uri", "")))
            await self.executor.setup(run)
            self._runs[spec.run_id] = run
        handle: JobHandle | None = None
        # The result is recorded before the container goes: a worker killed in between would
        # lose the attempt with its container, and the job would run again.
        try:
            try:
                seq = 0
                if claim.reattach:
                    stored = await asyncio.to_thread(queue.stored_lines, self.store, claim.id)
                    handle = await self.executor.adopt(spec, stored)
                    if handle is None:
                        gone = f"worker lost: {claim.path} attempt {claim.attempt}'s container is gone"
                        log.warning("%s", gone)
                        await asyncio.to_thread(
                            reconnecting, queue.finish, self.store, claim, exit_code=None, reason=gone
                        )
                        return
                    said = "re-attached to %s attempt %d after %d line(s)"
                    log.info(said, claim.path, claim.attempt, len(stored))
                    seq = len(stored)
                else:
                    handle = await self.executor.start(spec)
                async for batch in self.executor.log_batches(handle):
                    lines = [(line.stream, line.text, line.time) for line in batch]
                    if not await asyncio.to_thread(
                        reconnecting, queue.append_lines, self.store, claim, seq + 1, lines
                    ):
                        log.warning("%s is no longer ours: stopping it", claim.path)
                        return
                    seq += len(lines)
                ended = await self.executor.wait(handle)
                output = await self.executor.output_file(handle)
                done: dict[str, Any] = dict(
                    exit_code=ended.exit_code,
                    oom_killed=ended.oom_killed,
                    reason=ended.reason,
                    output_file=output,
                )
            except ExecutorError as error:
                done = dict(exit_code=None, reason=str(error))
            if not await asyncio.to_thread(reconnecting, partial(queue.finish, self.store, claim, **done)):
                log.warning("%s ended after it stopped being ours: its result is dropped", claim.path)
        finally:
            if handle is not None:
                await asyncio.shield(self.executor.destroy(handle))


def job_spec(stored: Mapping[str, Any]) -> JobSpec:
    """The JobSpec a ready job's row holds (its other keys, e.g. the flow's uri, left out)."""
    fields = {key: value for key, value in stored.items() if key in SPEC_FIELDS}
    return JobSpec(**fields | {"secret_env": frozenset(fields.get("secret_env", ()))})


async def _first(*waits: Any) -> None:
    """Wait for the first of ``waits`` (coroutines), cancelling the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _complain(what: str, error: Exception) -> None:
    """A loop's failed round, said before it tries again: a database that is away in one
    line (it is tried every round until it is back), anything else with its traceback."""
    if disconnected(error):
        log.warning("%s: the database is away (%s): trying again", what, str(error).splitlines()[0])
    else:
        log.exception("%s: trying again", what, exc_info=error)
