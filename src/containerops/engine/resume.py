"""Picking a run up again: after a server restart (``Engine.restore``), and
reruns that keep what succeeded (``Engine.reuse``).

A restored run is rebuilt from the store alone: the flow version it ran, its
parameters, and every job's state. Finished jobs keep their status and
outputs and are not run again; a job that was running when the engine
stopped gets its cut attempt recorded as cancelled and runs again with the
next attempt number. A pause stage the run waited at is waited at again,
with its original deadline (``containerops.engine.decisions``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from containerops.engine.reporter import Reporter
from containerops.engine.state import JobState, RunState
from containerops.model.loader import parse_flow
from containerops.store import Recorder, Store, StoreError

#: Where a restored run can be picked up from.
RESTORABLE = frozenset({"paused", "running", "pending"})


def restored_state(store: Store, run_id: int, executor: str) -> tuple[RunState, dict[str, Any], Recorder]:
    """The run's state as the store has it, its parameters, and a recorder for it."""
    row = store.get_run(run_id)
    if row.status not in RESTORABLE:
        raise StoreError(f"run {run_id} has ended ({row.status}); only unfinished runs can be restored")
    flow = parse_flow(store.flow_source(run_id), f"run {run_id}").flow
    by_path = {job.path: job for job in flow.jobs()}
    recorder = store.recorder(run_id)
    now = datetime.now(UTC)
    jobs: dict[str, JobState] = {}
    for stored in row.jobs:
        job = by_path.get(stored.path)
        if job is None:
            raise StoreError(f"run {run_id}: job {stored.path} is not in the flow version it ran")
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
        if js.status == "running":  # cut short when the engine stopped: tried again
            reason = "the engine stopped during this attempt; it is tried again"
            if js.attempts:
                recorder.attempt(js.id, js.attempts, status="cancelled", reason=reason, finished_at=now)
                recorder.change(js.id, js.attempts, "cancelled", now, reason)
            js.status = "pending"
            recorder.job(js.id, status="pending", reason=None)
        jobs[stored.path] = js
    state = RunState(
        flow=flow,
        id=row.id,
        uid=row.uid,
        number=row.number,
        executor=executor,
        jobs=jobs,
        status=row.status,  # type: ignore[arg-type]
        started_at=row.started_at,
    )
    recorder.flush()
    return state, dict(row.params), recorder


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
