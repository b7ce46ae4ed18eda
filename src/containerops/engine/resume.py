"""Picking a run up again: after a server restart (``Engine.restore``), and
reruns that keep what succeeded (``Engine.reuse``).

A restored run is rebuilt from the store alone: the flow version it ran, its
parameters, and every job's state. Finished jobs keep their status and
outputs and are not run again; a job that was running when the engine
stopped gets its cut attempt recorded as cancelled and runs again with the
next attempt number, unless its executor runs it apart from the engine (workers,
``Executor.adopts``): then that attempt is followed again where it is. A pause
stage the run waited at is waited at again, with its original deadline (``containerops.engine.decisions``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from containerops.engine.fanout import dynamic_instances, static_instances
from containerops.engine.reporter import Reporter
from containerops.engine.state import JobState, RunState
from containerops.engine.templating import flow_values
from containerops.model.flow import Flow, Job
from containerops.model.loader import parse_flow
from containerops.model.paths import group_of
from containerops.store import Recorder, Store, StoreError, runs
from containerops.store.rows import JobRow

#: Where a restored run can be picked up from.
RESTORABLE = frozenset({"paused", "running", "pending"})


Pin = Callable[[Flow, Mapping[str, str], str], Iterable[str]]


def restored_state(
    store: Store, run_id: int, executor: str, pin: Pin | None = None, *, adopts: bool = False
) -> tuple[RunState, dict[str, Any], Recorder, list[str]]:
    """The run's state as the store has it, its parameters, a recorder for it, and the
    secrets of its pinned components. ``pin`` pins the component jobs to the versions the
    run resolved at its start (before matrix instances are made from them). With
    ``adopts`` (the executor can follow an attempt another engine started: workers) a
    running job's attempt is followed again rather than cancelled."""
    row = store.get_run(run_id)
    if row.status not in RESTORABLE:
        raise StoreError(f"run {run_id} has ended ({row.status}); only unfinished runs can be restored")
    flow = parse_flow(store.flow_source(run_id), f"run {run_id}").flow
    recorded = row.params.get("components") or {}
    secrets: list[str] = []
    if recorded:  # component jobs run the very versions the run resolved at its start
        if pin is None:
            raise ValueError(f"run {run_id} has component jobs: restore it with pin=")
        secrets = list(pin(flow, recorded, f"run {run_id}"))
    fanned = static_instances(flow, flow_values(flow, {**flow.environments, **(row.params.get("set") or {})}))
    by_path = {job.path: job for job in flow.jobs()}
    by_path.update((job.path, job) for made in fanned.values() for job in made)
    recorder = store.recorder(run_id)
    now = datetime.now(UTC)
    so_far = runs.attempts_so_far(store, run_id)
    jobs: dict[str, JobState] = {}
    later: list[JobRow] = []  # instances of from: matrices, made from their producer's output
    for stored in row.jobs:
        job = by_path.get(stored.path)
        if job is None and group_of(stored.path) in by_path:
            later.append(stored)
            continue
        if job is None:
            raise StoreError(f"run {run_id}: job {stored.path} is not in the flow version it ran")
        jobs[stored.path] = _restored_job(job, stored, recorder, now, adopts, so_far)
    instances = {group: [job.path for job in made] for group, made in fanned.items()}
    for group in dict.fromkeys(group_of(stored.path) or "" for stored in later):
        matrix = by_path[group].matrix
        assert matrix is not None and matrix.source is not None
        made = {job.path: job for job in dynamic_instances(by_path[group], matrix, jobs[matrix.source[0]])}
        instances[group] = list(made)
        for stored in later:
            if group_of(stored.path) == group:
                jobs[stored.path] = _restored_job(made[stored.path], stored, recorder, now, adopts, so_far)
    state = RunState(
        flow=flow,
        id=row.id,
        uid=row.uid,
        number=row.number,
        executor=executor,
        jobs=jobs,
        status=row.status,  # type: ignore[arg-type]
        started_at=row.started_at,
        instances=instances,
    )
    recorder.flush()
    return state, dict(row.params), recorder, secrets


def _restored_job(
    job: Job,
    stored: JobRow,
    recorder: Recorder,
    now: datetime,
    adopts: bool,
    so_far: Mapping[int, tuple[int, datetime | None]],
) -> JobState:
    js = JobState(
        job=job,
        id=stored.id,
        status=stored.status,  # type: ignore[arg-type]
        reason=stored.reason,
        exit_code=stored.exit_code,
        attempts=stored.attempts,
        outputs=dict(stored.outputs),
        started_at=stored.started_at,
        finished_at=stored.finished_at,
    )
    js.failed_before, latest_start = so_far.get(stored.id, (0, None))
    if js.status == "running" and job.matrix is None and adopts and js.attempts:
        # its attempt goes on where the engine's executor runs it (a worker): followed again
        js.adopting, js.adopted_since = js.attempts, latest_start
        js.attempts -= 1
        js.status = "pending"
    elif js.status == "running" and job.matrix is None:  # cut short when the engine stopped: tried again
        reason = "the engine stopped during this attempt; it is tried again"
        if js.attempts:
            recorder.attempt(js.id, js.attempts, status="cancelled", reason=reason, finished_at=now)
            recorder.change(js.id, js.attempts, "cancelled", now, reason)
        js.status = "pending"
        recorder.job(js.id, status="pending", reason=None)
    elif js.status == "running":  # a matrix group: runs its unfinished instances again
        js.status = "pending"
        recorder.job(js.id, status="pending", reason=None)
    return js


def keep_successes(store: Store, state: RunState, recorder: Reporter, previous: int) -> list[str]:
    """Mark the jobs that succeeded in run ``previous`` as succeeded here, with their outputs.

    Only plain jobs are kept (``when: on_success``, no Lua condition): jobs that
    react to a failure or decide for themselves run again. Returns the kept paths.
    """
    old = store.get_run(previous)
    if old.uri != state.flow.uri:
        raise StoreError(f"run {previous} is a run of {old.uri}, not of {state.flow.uri}")
    now = datetime.now(UTC)
    kept: list[str] = []
    for stored in old.jobs:
        js = state.jobs.get(stored.path)
        if js is None or stored.status != "success" or js.status != "pending":
            continue
        if js.job.when != "on_success" or js.job.condition is not None:
            continue
        reason = f"kept from run {previous}, where it succeeded"
        js.status, js.reason, js.exit_code = "success", reason, stored.exit_code
        js.outputs = dict(stored.outputs)
        js.finished_at = now
        recorder.job(
            js.id,
            status="success",
            reason=reason,
            outputs=js.outputs,
            exit_code=js.exit_code,
            finished_at=now,
        )
        recorder.change(js.id, None, "success", now, reason)
        kept.append(stored.path)
    recorder.flush()
    return kept
