"""A matrix job at run time: its instances run as ordinary jobs, at most ``max_parallel`` at
once, and the job written in the flow becomes their group.

A static matrix's instances exist from the start of the run (their rows are created with
it, so the run view counts them); a ``from:`` matrix's are made when the group is reached,
from the JSON list its producer printed. ``fail_fast`` cancels the running instances and
skips the unstarted ones after the first failure. When all have ended the group is
settled: failure if any instance failed, and each declared output is the JSON list of the
instances' values, in instance order (null where one did not print it).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

from containerops.engine.prepared import PreparedRun
from containerops.engine.state import FINISHED, JobState, RunState
from containerops.engine.templating import Values
from containerops.model.flow import Flow, Job
from containerops.model.matrix import Matrix, MatrixError, from_output, instances, unresolved_matrix
from containerops.store.values import utcnow

RunJob = Callable[[Job, str | None], Awaitable[str | None]]
#: Adds instance jobs to a run's store: [(path, endpoint)] -> their ids.
AddJobs = Callable[[list[tuple[str, str | None]]], dict[str, int]]


def static_instances(flow: Flow, values: Values) -> dict[str, list[Job]]:
    """Group path -> its instance jobs, for every matrix whose values the flow gives;
    ``${{ env.X }}``, ``flow.*`` and ``trigger.*`` in those values are filled from ``values``."""
    made: dict[str, list[Job]] = {}
    for job in flow.jobs():
        if job.matrix is not None and job.matrix.source is None:
            combos = [
                {key: values.render(value) for key, value in combo.items()}
                for combo in job.matrix.combinations()
            ]
            made[job.path] = instances(job, combos)
    return made


def dynamic_instances(job: Job, matrix: Matrix, producer: JobState) -> list[Job]:
    """The instances a ``from:`` matrix makes from its producer's output; ``MatrixError``
    when that output is missing, not a JSON list, too long, or lacks a key the job uses."""
    assert matrix.source is not None
    source, key = matrix.source
    text = producer.outputs.get(key)
    if text is None:
        raise MatrixError(f"matrix from {source}[{key}]: {source} did not print {key} ({producer.status})")
    combos = from_output(text, f"{source}[{key}]")
    if len(combos) > matrix.max_instances:
        raise MatrixError(
            f"matrix from {source}[{key}]: {len(combos):,} instances, more than {matrix.max_instances:,} "
            "(raise strategy.max_instances to allow it)"
        )
    made = instances(job, combos)
    for instance in made:
        if (name := unresolved_matrix(instance)) is not None:
            raise MatrixError(
                f"matrix from {source}[{key}]: {instance.path} has no key {name!r} "
                f"for ${{{{ matrix.{name} }}}}"
            )
    return made


def add_instances(state: RunState, group: str, made: list[Job], ids: dict[str, int]) -> None:
    """Put instance jobs into the run's state, each right after its group's place."""
    state.instances[group] = [job.path for job in made]
    for job in made:
        state.jobs[job.path] = JobState(job=job, id=ids[job.path])


class Group:
    """One matrix job's run: its instances through ``run_job`` (the stages' own job step)."""

    def __init__(self, run: PreparedRun, group: JobState, run_job: RunJob, add_jobs: AddJobs) -> None:
        self.run = run
        self.group = group
        self.run_job = run_job
        self.add_jobs = add_jobs
        self.stopped_by: str | None = None  # the instance whose failure stopped the rest

    async def run_instances(self, failure: str | None) -> None:
        run, group = self.run, self.group
        matrix = group.job.matrix
        assert matrix is not None
        state = run.state
        if group.job.path not in state.instances:  # a from: matrix, made now
            try:
                self._make(matrix)
            except MatrixError as error:
                run.settle(group, "failure", str(error))
                return
        members = [state.jobs[path] for path in state.instances[group.job.path]]
        group.status, group.started_at = "running", group.started_at or utcnow()
        run.reporter.job(group.id, status="running", started_at=group.started_at)
        run.reporter.change(group.id, None, "running", group.started_at, None)
        run.changed(group)
        queue = iter(members)
        width = max(1, min(matrix.max_parallel or len(members), len(members)))
        workers: list[asyncio.Task[None]] = []
        try:
            async with asyncio.TaskGroup() as tasks:
                workers.extend(tasks.create_task(self._worker(queue, failure, workers)) for _ in range(width))
        finally:
            self._settle(members)

    def _make(self, matrix: Matrix) -> None:
        assert matrix.source is not None
        state, job = self.run.state, self.group.job
        made = dynamic_instances(job, matrix, state.jobs[matrix.source[0]])
        ids = self.add_jobs([(instance.path, instance.endpoint) for instance in made])
        add_instances(state, job.path, made, ids)

    async def _worker(
        self, queue: Iterator[JobState], failure: str | None, workers: list[asyncio.Task[None]]
    ) -> None:
        fail_fast = bool(self.group.job.matrix and self.group.job.matrix.fail_fast)
        for js in queue:
            if self.stopped_by is not None:
                self.run.settle(js, "skipped", f"skipped: fail_fast after {self.stopped_by} failed")
                continue
            await self.run_job(js.job, failure)
            if fail_fast and js.status == "failure" and not js.job.allow_failure and self.stopped_by is None:
                self.stopped_by = js.path
                self._stop_others(workers)

    def _stop_others(self, workers: list[asyncio.Task[None]]) -> None:
        """fail_fast: cancel what the other workers run now (recorded as cancelled, saying why)."""
        current = asyncio.current_task()
        why = f"cancelled: fail_fast after {self.stopped_by} failed"
        for path in self.run.state.instances[self.group.job.path]:
            js = self.run.state.jobs[path]
            if js.status not in FINISHED:
                self.run.stopped[js.id] = why
        for worker in workers:
            if worker is not current:
                worker.cancel()

    def _settle(self, members: list[JobState]) -> None:
        """Whatever a cancel left unsettled, then the group from its instances."""
        run, group = self.run, self.group
        for js in members:
            if js.status == "running":
                run.settle(js, "cancelled", run.interrupt_reason(js))
            elif js.status == "pending":
                run.settle(js, "skipped", f"skipped: {run.interrupt_reason(js)}")
        counts = Counter(js.status for js in members)
        failed = [js for js in members if js.status == "failure"]
        group.outputs = {
            key: json.dumps([js.outputs.get(key) for js in members], separators=(",", ":"))
            for key in group.job.outputs
        }
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        if failed:
            first = failed[0]
            run.settle(
                group,
                "failure",
                f"{len(failed)} of {len(members)} instances failed ({tally}); "
                f"first: {first.path}: {first.reason}",
            )
        elif members and counts["skipped"] == len(members):
            run.settle(group, "skipped", members[0].reason)
        elif counts["cancelled"]:
            run.settle(group, "cancelled", f"{tally}")
        else:
            run.settle(group, "success", None if not members else f"{len(members)} instances: {tally}")
