"""Running a flow: stages in order, actions in sequence or parallel, jobs one
after another, each job through the executor interface.

Failure scope: a job that fails (after its retries) skips the later jobs of its
action, the later actions of a sequence stage and every later stage; a
parallel sibling action is not "later" and runs to its end. ``when: on_failure``
jobs run only when such a failure precedes them, ``when: always`` jobs run
regardless. ``allow_failure`` records the failure and lets the flow go on.

Interruptions (Ctrl-C, SIGTERM, the flow's timeout) cancel the task that runs
the stages; each running job then destroys its container and is recorded as
cancelled, every job that never started as skipped, and the executor tears the
run down so that nothing of ours is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from containerops.contract.cout import COUT_MARKER, OutputError, Outputs
from containerops.engine import decisions, resume, scripts, service
from containerops.engine.environment import job_environment
from containerops.engine.masking import Masker
from containerops.engine.notify import wait_or_poll, waiting
from containerops.engine.plan import plan
from containerops.engine.scripts import Launch
from containerops.engine.secrets import check_available, substitute_all
from containerops.engine.state import FINISHED, JobState, JobStatus, RunState
from containerops.executors.base import Executor, ExecutorError, ExitStatus, JobHandle, JobSpec, RunContext
from containerops.lua.sandbox import ScriptError
from containerops.model.flow import Flow, Job
from containerops.model.quantities import format_memory
from containerops.store import Recorder, Store, pauses
from containerops.store.ownership import HEARTBEAT_EVERY, this_process
from containerops.store.values import utcnow

#: How often buffered state and log lines reach the store while a run goes on.
FLUSH_INTERVAL = 0.1
#: Flush early when this many log lines wait, to bound memory.
FLUSH_LINES = 20_000
#: A line longer than this (characters) is stored cut, with a marker saying how much.
MAX_LINE = 64 * 1024
#: Characters of log one attempt may store (``COOPS_MAX_JOB_LOG``); past it lines are counted,
#: not stored, and the log says so, so that no job can fill the disk.
DEFAULT_MAX_JOB_LOG = 256 * 1024 * 1024


def max_job_log() -> int:
    setting = os.environ.get("COOPS_MAX_JOB_LOG", "").strip()
    return int(setting) if setting.isdigit() else DEFAULT_MAX_JOB_LOG


class _Interrupted(Exception):
    """Why the run was stopped from outside: the status and reason to record."""


class Engine:
    """Runs one flow at a time on one executor, recording everything in the store."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        on_change: Callable[[RunState, JobState | None], None] | None = None,
        keep_workspace: bool = False,
    ) -> None:
        self.store = store
        self.executor = executor
        #: Leave the run's shared workspace in place; ``state.workspace`` then says where.
        self.keep_workspace = keep_workspace
        self.on_change = on_change
        self.state: RunState | None = None
        self._stages_task: asyncio.Task[None] | None = None
        self._interrupt: tuple[str, str] | None = None  # (run status, reason)
        self._recorder: Recorder | None = None
        self._flow_env: dict[str, str] = {}
        self.masker = Masker()
        #: ``${{ secrets.NAME }}`` values of this run (service requests use them too).
        self.secret_values: dict[str, str] = {}
        #: The server's public URL: service callbacks go to ``{callback_base}/api/v1/callbacks/...``.
        #: The server sets it; COOPS_SERVER_URL (the server's public URL setting) is the fallback.
        self.callback_base: str | None = os.environ.get("COOPS_SERVER_URL") or None
        #: How often a paused run reads the store for a decision taken by another process.
        self.decision_poll = 0.5
        self._suspended = False
        self._seq: dict[tuple[int, int], int] = {}  # (job id, attempt) -> last log line number

    # -- public --------------------------------------------------------------
    def prepare(
        self,
        flow: Flow,
        *,
        source: str,
        fmt: str,
        params: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
        flow_version: tuple[int, int] | None = None,
        secret_values: Mapping[str, str] | None = None,
        reuse_from: int | None = None,
        run_columns: Mapping[str, Any] | None = None,
    ) -> RunState:
        """Save the flow and a pending run with all its jobs; return the run's state.

        ``secrets`` are values masked as ``***`` in every line the run's jobs print.
        ``flow_version`` (flow id, version id) runs a version already stored, which may
        be an older one (the server does that); ``source`` is then not saved again.
        ``secret_values`` (name -> value) fill ``${{ secrets.NAME }}``; all are masked,
        and a reference to any other name raises :class:`MissingSecret` before anything
        is recorded. ``reuse_from`` keeps what succeeded in that run (see ``reuse``).
        ``run_columns`` are more columns of the run row, written with it (the server's ``trigger``).
        """
        overrides = (params or {}).get("set") or {}
        self.secret_values = dict(secret_values or {})
        check_available(flow, self.secret_values, overrides)
        self.masker.add(*secrets, *self.secret_values.values())
        if flow_version is None:
            flow_id, version_id, _ = self.store.save_flow(flow.uri, source, fmt)
        else:
            flow_id, version_id = flow_version
        jobs = flow.jobs()
        new = self.store.create_run(
            flow_id,
            version_id,
            self.executor.name,
            dict(params or {}),
            [(job.path, job.endpoint) for job in jobs],
            # this process owns the run from now on: another can tell when it is gone
            columns={**(run_columns or {}), "owner": this_process(), "heartbeat_at": utcnow()},
        )
        self.state = RunState(
            flow=flow,
            id=new.id,
            uid=new.uid,
            number=new.number,
            executor=self.executor.name,
            jobs={job.path: JobState(job=job, id=new.job_ids[job.path]) for job in jobs},
        )
        merged = {**flow.environments, **overrides}
        self._flow_env = substitute_all(merged, self.secret_values, merged)
        self._recorder = self.store.recorder(new.id, mask=self.masker.mask)
        if reuse_from is not None:
            self.reuse(reuse_from)
        return self.state

    def reuse(self, previous: int) -> list[str]:
        """Before ``run``: keep the jobs that succeeded in run ``previous`` (their status and
        outputs), so that only the others run. Returns the paths kept."""
        state, recorder = self._require()
        if state.status != "pending":
            raise RuntimeError("Engine.reuse() must be called before the run starts")
        return resume.keep_successes(self.store, state, recorder, previous)

    @classmethod
    def restore(
        cls,
        store: Store,
        executor: Executor,
        run_id: int,
        *,
        on_change: Callable[[RunState, JobState | None], None] | None = None,
        secrets: Iterable[str] = (),
        secret_values: Mapping[str, str] | None = None,
        pin: Callable[[Flow, Mapping[str, str], str], Iterable[str]] | None = None,
    ) -> Engine:
        """An engine that goes on with an unfinished run (a paused one after a restart) from
        the store: finished jobs keep their status and outputs, a pause is waited at again
        with its original deadline. Call ``run()`` on it. ``pin`` pins the run's component
        jobs to the versions it resolved at its start and gives their secrets (the launch
        layer's ``pin_recorded_components``: the engine knows no repository)."""
        engine = cls(store, executor, on_change=on_change)
        state, params, recorder = resume.restored_state(store, run_id, executor.name)
        recorded = params.get("components") or {}
        if recorded:  # component jobs run the very versions the run resolved at its start
            if pin is None:
                raise ValueError(f"run {run_id} has component jobs: restore it with pin=")
            secrets = [*secrets, *pin(state.flow, recorded, f"run {run_id}")]
        engine.secret_values = dict(secret_values or {})
        engine.masker.add(*secrets, *engine.secret_values.values())
        overrides = params.get("set") or {}
        merged = {**state.flow.environments, **overrides}
        engine._flow_env = substitute_all(merged, engine.secret_values, merged)
        recorder.mask = engine.masker.mask
        recorder.run_owner(this_process(), utcnow())  # the restoring process owns it now
        engine.state, engine._recorder = state, recorder
        return engine

    def suspend(self) -> None:
        """Stop waiting at a pause without ending the run: it stays ``paused`` in the store,
        for ``restore`` to pick up. A run that is not paused is cancelled instead."""
        if self.state is None or self.state.status != "paused":
            self.cancel("server stopped")
            return
        self._suspended = True
        if self._stages_task is not None and not self._stages_task.done():
            self._stages_task.cancel()

    def cancel(self, reason: str = "cancelled", status: str = "cancelled") -> None:
        """Stop the run from outside (a signal handler, an API call). Safe to call twice."""
        if self._interrupt is None:
            self._interrupt = (status, reason)
        if self._stages_task is not None and not self._stages_task.done():
            self._stages_task.cancel()

    async def run(self) -> RunState:
        """Run the prepared flow to its end; always leaves the store complete."""
        state, recorder = self._require()
        flow = state.flow
        context = RunContext(
            run_id=state.uid,
            flow_uri=flow.uri,
            keep_workspace=self.keep_workspace,
        )
        state.started_at = state.started_at or utcnow()  # a restored run keeps its start
        if state.status != "paused":  # a restored paused run stays so: it can be decided meanwhile
            state.status = "running"
            recorder.run("running", utcnow(), started_at=state.started_at)
        recorder.flush()
        self._changed()
        flusher = asyncio.create_task(self._flush_periodically())
        timer: asyncio.TimerHandle | None = None
        try:
            await self.executor.setup(context)
            self._stages_task = asyncio.create_task(self._run_stages())
            if self._interrupt is not None:  # a signal came in before we got here
                self._stages_task.cancel()
            if flow.timeout:
                timer = asyncio.get_running_loop().call_later(
                    flow.timeout,
                    self.cancel,
                    f"flow timeout after {flow.timeout:g} s",
                    "failure",
                )
            with contextlib.suppress(asyncio.CancelledError):
                await self._stages_task
        except ExecutorError as error:
            self._interrupt = self._interrupt or ("failure", str(error))
        except Exception as error:  # a bug of ours: record it, clean up, then let it show
            self._interrupt = self._interrupt or ("failure", f"internal error in the engine: {error!r}")
            raise
        finally:
            if timer is not None:
                timer.cancel()
            # Teardown must happen even when we are being cancelled ourselves.
            teardown = asyncio.ensure_future(self.executor.teardown(context))
            with contextlib.suppress(BaseException):
                await asyncio.shield(teardown)
            if self.keep_workspace:
                state.workspace = self.executor.workspace(context)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if self._suspended:  # set only while paused
                recorder.flush()  # left paused in the store, for Engine.restore
            else:
                self._finish()
        return state

    # -- stages, actions, jobs -------------------------------------------------
    async def _run_stages(self) -> None:
        state, _ = self._require()
        failure: str | None = None
        for step in plan(state.flow).steps:
            if step.pause:
                if failure is not None:  # what follows is skipped anyway: nothing to approve
                    continue
                refused = await self._pause(step.stage)
                if refused is not None:  # rejected, or nobody decided in time
                    self._interrupt = self._interrupt or ("failure", refused)
                    return
            elif step.parallel:  # a failure in one lane does not stop its siblings
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(self._run_lane(lane, failure)) for lane in step.lanes]
                failure = failure or next((r for t in tasks if (r := t.result())), None)
            else:
                failure = await self._run_lane(step.lanes[0], failure)

    async def _run_lane(self, jobs: tuple[Job, ...], failure: str | None) -> str | None:
        """Run jobs in order; return the path of the first failure in scope."""
        for job in jobs:
            failure = await self._run_job(job, failure)
        return failure

    async def _pause(self, stage_name: str) -> str | None:
        """Wait at a pause stage for its decision; None when approved, else why the run fails."""
        state, recorder = self._require()
        stage = next(s for s in state.flow.stages if s.name == stage_name)
        pause = pauses.open_pause(self.store, state.id, stage.name, stage.timeout)
        if pause.decision is None:
            if state.status != "paused":  # a restored run already is
                state.status, state.reason = "paused", f"waiting at stage {stage.name} for an approval"
                recorder.run("paused", utcnow(), state.reason)
                recorder.flush()
                self._changed()
            pause = await self._decision(pause)
        said = decisions.describe(pause)
        if pause.decision != "approved":
            return said
        state.status, state.reason = "running", None
        recorder.run("running", utcnow(), said)
        recorder.flush()
        self._changed()
        return None

    async def _decision(self, pause: pauses.Pause) -> pauses.Pause:
        """The pause once decided: woken by ``decide`` in this process, else by polling the store."""
        with waiting(decisions.KIND, pause.run_id) as event:
            while True:
                current = pauses.get_pause(self.store, pause.run_id, pause.stage)
                assert current is not None
                if current.decision is not None:
                    return current
                wait = self.decision_poll
                if current.deadline is not None:
                    left = (current.deadline - utcnow()).total_seconds()
                    if left <= 0:
                        return pauses.expire(self.store, current)
                    wait = min(wait, left)
                await wait_or_poll(event, wait)

    async def _run_job(self, job: Job, failure: str | None) -> str | None:
        state, _ = self._require()
        js = state.jobs[job.path]
        if js.status in FINISHED:  # a restored run's, or kept from an earlier run
            return self._failure_after(js, failure)
        if not job.active:
            self._settle(js, "skipped", "inactive")
            return failure
        if job.condition is not None:
            refused = await self._condition(js, failure)
            if refused is not None:
                self._settle(js, *refused)
                return self._failure_after(js, failure)
        elif job.when == "on_success" and failure is not None:
            self._settle(js, "skipped", f"skipped: {failure} failed")
            return failure
        elif job.when == "on_failure" and failure is None:
            self._settle(js, "skipped", "skipped: runs only on failure, and nothing failed")
            return failure
        subscribed, missing = self._subscribed(job)
        if missing:
            self._settle(js, "failure", missing)
        else:
            launch = Launch(job, subscribed)
            if job.pre is None or await self._pre(js, launch, failure):
                await self._run_attempts(js, launch)
        return self._failure_after(js, failure)

    @staticmethod
    def _failure_after(js: JobState, failure: str | None) -> str | None:
        if js.status == "failure" and not js.job.allow_failure:
            return failure or js.path
        return failure

    # -- Lua: when, pre, post ------------------------------------------------------
    def _script_values(
        self, job: Job, failure: str | None, subscribed: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        state, _ = self._require()
        env = {**self._flow_env, **substitute_all(job.environments, self.secret_values, self._flow_env)}
        inputs = substitute_all(job.inputs, self.secret_values, env)
        env.update(subscribed or {})
        return {
            "inputs": inputs,
            "env": env,
            "jobs": scripts.finished_jobs(state),
            "failed": failure is not None,
            "failure": failure,
        }

    async def _condition(self, js: JobState, failure: str | None) -> tuple[JobStatus, str] | None:
        """None when the job's ``when`` expression says run, else its (status, reason)."""
        assert js.job.condition is not None
        try:
            if await scripts.condition(js.job.condition, self._script_values(js.job, failure)):
                return None
        except ScriptError as error:
            return "failure", str(error)
        return "skipped", "skipped: its when expression is false"

    async def _pre(self, js: JobState, launch: Launch, failure: str | None) -> bool:
        """Run the job's ``pre`` script; False when it settled the job (skipped or failed)."""
        _, recorder = self._require()
        job = js.job
        assert job.pre is not None
        values = self._script_values(job, failure, launch.subscribed)
        try:
            verdict = await scripts.script(job.pre, "pre", values, ("inputs", "env"))
        except ScriptError as error:
            self._settle(js, "failure", str(error))
            return False
        self._script_log(js, js.attempts + 1, "pre", verdict.printed)
        why = verdict.reason or "no reason given"
        if verdict.action == "skip":
            self._settle(js, "skipped", f"skipped by its pre script: {why}")
            return False
        if verdict.action == "fail":
            self._settle(js, "failure", f"failed by its pre script: {why}")
            return False
        inputs, env = verdict.tables["inputs"], verdict.tables["env"]
        notes = []
        if changed := scripts.changes(values["inputs"], inputs):
            launch.job = dataclasses.replace(job, inputs=inputs)
            notes.append(f"inputs {', '.join(changed)}")
        if changed := scripts.changes(values["env"], env):
            launch.env_set = {k: v for k, v in env.items() if values["env"].get(k) != v}
            launch.env_unset = frozenset(values["env"]) - frozenset(env)
            notes.append(f"environment {', '.join(changed)}")
        if notes:
            recorder.change(js.id, None, "pending", utcnow(), f"pre script changed {'; '.join(notes)}")
        return True

    async def _post(
        self,
        js: JobState,
        attempt: int,
        launch: Launch,
        result: tuple[JobStatus, int | None, str | None, dict[str, str]],
    ) -> tuple[JobStatus, str | None, dict[str, str]]:
        """Run the job's ``post`` script on an attempt's result: (status, reason, outputs)."""
        _, recorder = self._require()
        status, exit_code, reason, outputs = result
        assert launch.job.post is not None
        values = self._script_values(launch.job, None, launch.subscribed)
        values.update(exit_code=exit_code, result=status == "success", reason=reason, outputs=dict(outputs))
        try:
            verdict = await scripts.script(launch.job.post, "post", values, ("outputs",))
        except ScriptError as error:
            return "failure", str(error), outputs
        self._script_log(js, attempt, "post", verdict.printed)
        new_outputs = {key: self.masker.mask(value) for key, value in verdict.tables["outputs"].items()}
        notes = []
        if changed := scripts.changes(outputs, new_outputs):
            notes.append(f"set outputs {', '.join(changed)}")
        why = verdict.reason or "no reason given"
        if verdict.action == "fail":
            status, reason = "failure", f"failed by its post script: {why}"
        elif verdict.action == "succeed" and status != "success":
            status, reason = "success", f"post script overrode the failure ({reason}): {why}"
            notes.append(reason)
        if notes:
            recorder.change(js.id, attempt, "running", utcnow(), f"post script: {'; '.join(notes)}")
        return status, reason, new_outputs

    def _script_log(self, js: JobState, attempt: int, name: str, lines: list[str]) -> None:
        for line in lines:
            self._log_line(js, attempt, f"[{name}] {line}")

    def _log_line(self, js: JobState, attempt: int, text: str, stream: str = "stdout") -> None:
        """One line of the engine's own about a job (a script's print, a service call), masked."""
        _, recorder = self._require()
        key = (js.id, attempt)
        seq = self._seq[key] = self._seq.get(key, 0) + 1
        masked = self.masker.mask(text)
        recorder.log(js.id, attempt, seq, utcnow(), stream, masked)
        js.last_line = masked

    def _subscribed(self, job: Job) -> tuple[dict[str, str], str | None]:
        """The values a job subscribes to, or why it cannot start."""
        state, _ = self._require()
        values: dict[str, str] = {}
        for sub in job.subscriptions:
            source = state.jobs[sub.source]
            if sub.key in source.outputs:
                values[sub.env] = source.outputs[sub.key]
            elif sub.default is not None:  # optional: a skipped or failed producer is no failure
                values[sub.env] = sub.default
            elif source.status in ("skipped", "pending"):
                return values, f"needs {sub.key} from {sub.source}, which did not run ({source.status})"
            else:
                return values, f"needs {sub.key} from {sub.source}, which never printed it ({source.status})"
        return values, None

    async def _run_attempts(self, js: JobState, launch: Launch) -> None:
        job = js.job
        first = js.attempts + 1  # a restored job goes on numbering its attempts
        for attempt in range(first, first + job.retries + 1):
            try:
                status, exit_code, reason, outputs = await self._attempt(js, attempt, launch)
            except asyncio.CancelledError:
                self._settle(js, "cancelled", self._interrupt_reason(), history=False)
                raise
            js.exit_code, js.outputs = exit_code, outputs
            if status == "success" or attempt >= first + job.retries:
                # the attempt's change already says it: one history row, not two
                self._settle(js, status, reason, history=False)
                return

    async def _attempt(
        self, js: JobState, attempt: int, launch: Launch
    ) -> tuple[JobStatus, int | None, str | None, dict[str, str]]:
        """One try of a job (a fresh container, or a service call): (status, exit code, reason, outputs)."""
        state, recorder = self._require()
        job = launch.job
        now = utcnow()
        js.attempts = attempt
        js.status = "running"
        js.reason = None
        if js.started_at is None:
            js.started_at = now
        recorder.job(js.id, status="running", attempts=attempt, started_at=js.started_at, reason=None)
        recorder.attempt(js.id, attempt, _new=True, status="running", started_at=now)
        recorder.change(js.id, attempt, "running", now, None)
        if self.executor.has_side_effects:
            recorder.flush()  # "started" is stored before anything starts
        self._changed(js)
        env = launch.environment(
            job_environment(
                state.flow,
                job,
                subscribed=launch.subscribed,
                run_id=state.id,
                attempt=attempt,
                flow_env=self._flow_env,
                secrets=self.secret_values,
            )
        )
        if job.type == "service":
            exit_code: int | None = None
            reason, values = await self._call_service(js, attempt, job, env)
        else:
            exit_code, reason, values = await self._run_container(js, attempt, job, env)
        status: JobStatus = "success" if reason is None else "failure"
        if job.post is not None:
            result = (status, exit_code, reason, values)
            status, reason, values = await self._post(js, attempt, launch, result)
        self._end_attempt(js, attempt, status, exit_code, reason, values)
        return status, exit_code, reason, values

    async def _call_service(
        self, js: JobState, attempt: int, job: Job, env: dict[str, str]
    ) -> tuple[str | None, dict[str, str]]:
        """A service job's attempt: (reason it failed or None, outputs)."""
        state, _ = self._require()
        assert job.service is not None
        values = service.Values(substitute_all(job.inputs, self.secret_values, env), env, self.secret_values)
        try:
            async with asyncio.timeout(job.timeout):
                outputs = await service.call(
                    job.service,
                    values,
                    store=self.store,
                    run_id=state.id,
                    job_id=js.id,
                    attempt=attempt,
                    callback_base=self.callback_base,
                    log=lambda stream, text: self._log_line(js, attempt, text, stream),
                    on_token=self.masker.add,
                    mask=self.masker.mask,
                )
        except service.ServiceError as error:
            return self.masker.mask(str(error)), {}
        except TimeoutError:
            return f"timeout after {job.timeout or 0:g} s", {}
        except asyncio.CancelledError:
            self._end_attempt(js, attempt, "cancelled", None, self._interrupt_reason(), {})
            raise
        return None, {key: self.masker.mask(value) for key, value in outputs.items()}

    async def _run_container(
        self, js: JobState, attempt: int, job: Job, env: dict[str, str]
    ) -> tuple[int | None, str | None, dict[str, str]]:
        """A job's attempt in a fresh container: (exit code, reason it failed or None, outputs)."""
        state, _ = self._require()
        spec = JobSpec(
            run_id=state.uid,
            path=job.path,
            attempt=attempt,
            image=job.endpoint,
            command=job.command,
            env=env,
            cpu=job.resources.cpu,
            memory=job.resources.memory,
        )
        outputs = Outputs()
        reason: str | None = None
        exit_code: int | None = None
        handle: JobHandle | None = None
        try:
            handle = await self.executor.start(spec)
            async with asyncio.timeout(job.timeout):
                reason = await self._pump_logs(js, attempt, handle, outputs)
                if reason is None:
                    ended = await self.executor.wait(handle)
                    exit_code = ended.exit_code
                    reason = _exit_reason(ended, job)
        except TimeoutError:
            reason = f"timeout after {job.timeout or 0:g} s"
        except ExecutorError as error:
            reason = str(error)
        except asyncio.CancelledError:
            self._end_attempt(js, attempt, "cancelled", exit_code, self._interrupt_reason(), outputs.values)
            raise
        finally:
            if handle is not None:
                await _shielded(self.executor.destroy(handle))
        if reason is None and outputs.result is False:
            reason = "the component reported CO_RESULT = false"
        return exit_code, reason, outputs.values

    def _end_attempt(
        self,
        js: JobState,
        attempt: int,
        status: JobStatus,
        exit_code: int | None,
        reason: str | None,
        outputs: dict[str, str],
    ) -> None:
        _, recorder = self._require()
        finished = utcnow()
        self._seq.pop((js.id, attempt), None)
        recorder.attempt(
            js.id,
            attempt,
            status=status,
            exit_code=exit_code,
            reason=reason,
            outputs=outputs,
            finished_at=finished,
        )
        recorder.change(js.id, attempt, status, finished, reason)

    async def _pump_logs(self, js: JobState, attempt: int, handle: JobHandle, outputs: Outputs) -> str | None:
        """Store every line the job prints and read its outputs; a reason if it broke the limits."""
        _, recorder = self._require()
        seq = self._seq.get((js.id, attempt), 0)
        lines = self.executor.logs(handle)
        # The busiest loop of a chatty job (a million lines): methods looked up once, outputs
        # parsed only from lines that can hold one, the pending count checked every 1,024 lines.
        mask, log, feed, job_id = self.masker.mask, recorder.log, outputs.feed, js.id
        room, unstored = max_job_log(), 0
        try:
            async for line in lines:
                text = mask(line.text)
                shown = text  # stored; outputs are read from the whole line (they have their own limits)
                if len(text) > MAX_LINE:
                    shown = f"{text[:MAX_LINE]} [... {len(text) - MAX_LINE} more characters cut]"
                room -= len(shown)
                if room >= 0:
                    seq += 1
                    log(job_id, attempt, seq, line.time, line.stream, shown)
                    js.last_line = shown
                else:  # counted, not stored: the job goes on, its outputs are still read
                    unstored += 1
                if COUT_MARKER in text and line.stream == "stdout":
                    try:
                        feed(text)
                    except OutputError as error:
                        return str(error)
                if not seq & 1023 and recorder.pending_logs >= FLUSH_LINES:
                    recorder.flush(wait=False)
        finally:
            if unstored:
                seq += 1
                note = f"[coops] the log passed {max_job_log()} characters: {unstored} more lines not stored"
                log(job_id, attempt, seq, utcnow(), "stderr", note)
                js.last_line = note
            self._seq[(js.id, attempt)] = seq
            aclose = getattr(lines, "aclose", None)  # stop the reader when we leave early
            if aclose is not None:
                await aclose()
        return None

    # -- bookkeeping -----------------------------------------------------------
    def _settle(self, js: JobState, status: JobStatus, reason: str | None, *, history: bool = True) -> None:
        """Record the final state of a job (and, unless its last attempt did, the change)."""
        _, recorder = self._require()
        now = utcnow()
        reason = reason if reason is None else self.masker.mask(reason)  # the live view shows it too
        js.status, js.reason, js.finished_at = status, reason, now
        recorder.job(
            js.id,
            status=status,
            reason=reason,
            exit_code=js.exit_code,
            attempts=js.attempts,
            outputs=js.outputs,
            started_at=js.started_at,
            finished_at=now,
        )
        if history:
            recorder.change(js.id, js.attempts or None, status, now, reason)
        self._changed(js)

    def _interrupt_reason(self) -> str:
        return self._interrupt[1] if self._interrupt else "cancelled"

    def _finish(self) -> None:
        state, recorder = self._require()
        for js in state.jobs.values():
            if js.status not in FINISHED:
                if js.status == "running":  # only when cancellation came in mid-start
                    self._settle(js, "cancelled", self._interrupt_reason())
                else:
                    self._settle(js, "skipped", f"skipped: {self._interrupt_reason()}")
        if self._interrupt is not None:
            status, reason = self._interrupt
        else:
            failed = [js for js in state.jobs.values() if js.status == "failure" and not js.job.allow_failure]
            if failed:
                first = failed[0]
                status, reason = "failure", f"{first.path} failed: {first.reason}"
            else:
                status, reason = "success", None
        state.status = status  # type: ignore[assignment]
        state.reason = reason
        state.finished_at = utcnow()
        recorder.run(status, state.finished_at, reason, finished_at=state.finished_at)
        recorder.flush()
        self._changed()

    async def _flush_periodically(self) -> None:
        """Lines reach the store within FLUSH_INTERVAL (a kill loses at most that), and the
        run's heartbeat says every HEARTBEAT_EVERY seconds that its owner is alive."""
        _, recorder = self._require()
        beat = 0.0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            beat += FLUSH_INTERVAL
            if beat >= HEARTBEAT_EVERY:
                beat = 0.0
                recorder.heartbeat(utcnow())
            recorder.flush(wait=False)

    def _changed(self, js: JobState | None = None) -> None:
        """Tell the display; ``js`` is the job that changed, None for the run."""
        if self.on_change is not None and self.state is not None:
            self.on_change(self.state, js)

    def _require(self) -> tuple[RunState, Recorder]:
        if self.state is None or self._recorder is None:
            raise RuntimeError("Engine.prepare() must be called before running")
        return self.state, self._recorder


def _exit_reason(ended: ExitStatus, job: Job) -> str | None:
    if ended.oom_killed:  # worded here, the same on every executor
        limit = f" (limit {format_memory(job.resources.memory)})" if job.resources.memory else ""
        if ended.exit_code == 137:  # 128 + SIGKILL: the job's own process was killed
            return f"out of memory{limit}: killed with exit code 137"
        # the kernel killed another process of the job (a child); the job went on and ended
        code = ended.exit_code
        return f"out of memory{limit}: a process of the job was killed; the job then exited with code {code}"
    if ended.exit_code != 0:
        return ended.reason or f"exit code {ended.exit_code}"
    return None


async def _shielded(coro: Any) -> None:
    """Await cleanup even while being cancelled, then let the cancellation go on."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
    except Exception:
        pass
