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
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from containerops.contract.cout import COUT_MARKER, OutputError, Outputs
from containerops.engine.environment import job_environment
from containerops.engine.masking import Masker
from containerops.engine.plan import plan
from containerops.engine.state import FINISHED, JobState, JobStatus, RunState
from containerops.executors.base import Executor, ExecutorError, ExitStatus, JobHandle, JobSpec, RunContext
from containerops.model.flow import Flow, Job
from containerops.model.quantities import format_memory
from containerops.store import Recorder, Store

#: How often buffered state and log lines reach the store while a run goes on.
FLUSH_INTERVAL = 0.1
#: Flush early when this many log lines wait, to bound memory.
FLUSH_LINES = 20_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Interrupted(Exception):
    """Why the run was stopped from outside: the status and reason to record."""


class Engine:
    """Runs one flow at a time on one executor, recording everything in the store."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        network_mode: str = "bridge",
        on_change: Callable[[RunState, JobState | None], None] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.network_mode = network_mode
        self.on_change = on_change
        self.state: RunState | None = None
        self._stages_task: asyncio.Task[None] | None = None
        self._interrupt: tuple[str, str] | None = None  # (run status, reason)
        self._recorder: Recorder | None = None
        self._flow_env: dict[str, str] = {}
        self.masker = Masker()

    # -- public --------------------------------------------------------------
    def prepare(
        self,
        flow: Flow,
        *,
        source: str,
        fmt: str,
        params: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> RunState:
        """Save the flow and a pending run with all its jobs; return the run's state.

        ``secrets`` are values masked as ``***`` in every line the run's jobs print.
        """
        self.masker.add(*secrets)
        flow_id, version_id, _ = self.store.save_flow(flow.uri, source, fmt)
        jobs = flow.jobs()
        new = self.store.create_run(
            flow_id,
            version_id,
            self.executor.name,
            dict(params or {}),
            [(job.path, job.endpoint) for job in jobs],
        )
        self.state = RunState(
            flow=flow,
            id=new.id,
            uid=new.uid,
            number=new.number,
            executor=self.executor.name,
            jobs={job.path: JobState(job=job, id=new.job_ids[job.path]) for job in jobs},
        )
        overrides = (params or {}).get("set") or {}
        self._flow_env = {**flow.environments, **overrides}
        self._recorder = self.store.recorder(new.id)
        return self.state

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
        context = RunContext(run_id=state.uid, flow_uri=flow.uri, network_mode=self.network_mode)
        state.status = "running"
        state.started_at = utcnow()
        recorder.run("running", state.started_at, started_at=state.started_at)
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
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            self._finish()
        return state

    # -- stages, actions, jobs -------------------------------------------------
    async def _run_stages(self) -> None:
        state, _ = self._require()
        failure: str | None = None
        for step in plan(state.flow).steps:
            if step.pause:  # approvals come with the server; never pass a gate unapproved
                self.cancel(
                    f"stage {step.stage} waits for an approval, which needs the server (coops server); "
                    "this engine cannot approve it",
                    "failure",
                )
                await asyncio.sleep(0)  # let the cancellation land here, before anything else runs
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

    async def _run_job(self, job: Job, failure: str | None) -> str | None:
        state, _ = self._require()
        js = state.jobs[job.path]
        if job.when == "on_success" and failure is not None:
            self._settle(js, "skipped", f"skipped: {failure} failed")
            return failure
        if job.when == "on_failure" and failure is None:
            self._settle(js, "skipped", "skipped: runs only on failure, and nothing failed")
            return failure
        subscribed, missing = self._subscribed(job)
        if job.type == "service":  # calling a third service and its callback come with the server
            self._settle(
                js, "failure", "service jobs need the server (coops server); this engine cannot run them"
            )
        elif missing:
            self._settle(js, "failure", missing)
        else:
            await self._run_attempts(js, subscribed)
        if js.status == "failure" and not job.allow_failure:
            return failure or job.path
        return failure

    def _subscribed(self, job: Job) -> tuple[dict[str, str], str | None]:
        """The values a job subscribes to, or why it cannot start."""
        state, _ = self._require()
        values: dict[str, str] = {}
        for sub in job.subscriptions:
            source = state.jobs[sub.source]
            if sub.key in source.outputs:
                values[sub.env] = source.outputs[sub.key]
            elif source.status in ("skipped", "pending"):
                return values, f"needs {sub.key} from {sub.source}, which did not run ({source.status})"
            else:
                return values, f"needs {sub.key} from {sub.source}, which never printed it ({source.status})"
        return values, None

    async def _run_attempts(self, js: JobState, subscribed: dict[str, str]) -> None:
        job = js.job
        for attempt in range(1, job.retries + 2):
            try:
                status, exit_code, reason, outputs = await self._attempt(js, attempt, subscribed)
            except asyncio.CancelledError:
                self._settle(js, "cancelled", self._interrupt_reason(), history=False)
                raise
            js.exit_code, js.outputs = exit_code, outputs
            if status == "success" or attempt > job.retries:
                # the attempt's change already says it: one history row, not two
                self._settle(js, status, reason, history=False)
                return

    async def _attempt(
        self, js: JobState, attempt: int, subscribed: dict[str, str]
    ) -> tuple[JobStatus, int | None, str | None, dict[str, str]]:
        """One try of a job in a fresh container: (status, exit code, reason, outputs)."""
        state, recorder = self._require()
        job = js.job
        now = utcnow()
        js.attempts = attempt
        js.status = "running"
        js.reason = None
        if js.started_at is None:
            js.started_at = now
        recorder.job(js.id, status="running", attempts=attempt, started_at=js.started_at, reason=None)
        recorder.attempt(js.id, attempt, _new=True, status="running", started_at=now)
        recorder.change(js.id, attempt, "running", now, None)
        self._changed(js)
        env = job_environment(
            state.flow, job, subscribed=subscribed, run_id=state.id, attempt=attempt, flow_env=self._flow_env
        )
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
        status: JobStatus = "success" if reason is None else "failure"
        self._end_attempt(js, attempt, status, exit_code, reason, outputs.values)
        return status, exit_code, reason, outputs.values

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
        seq = 0
        lines = self.executor.logs(handle)
        # The busiest loop of a chatty job (a million lines): methods looked up once, outputs
        # parsed only from lines that can hold one, the pending count checked every 1,024 lines.
        mask, log, feed, job_id = self.masker.mask, recorder.log, outputs.feed, js.id
        try:
            async for line in lines:
                seq += 1
                text = mask(line.text)
                log(job_id, attempt, seq, line.time, line.stream, text)
                js.last_line = text
                if COUT_MARKER in text and line.stream == "stdout":
                    try:
                        feed(text)
                    except OutputError as error:
                        return str(error)
                if not seq & 1023 and recorder.pending_logs >= FLUSH_LINES:
                    recorder.flush(wait=False)
        finally:
            aclose = getattr(lines, "aclose", None)  # stop the reader when we leave early
            if aclose is not None:
                await aclose()
        return None

    # -- bookkeeping -----------------------------------------------------------
    def _settle(self, js: JobState, status: JobStatus, reason: str | None, *, history: bool = True) -> None:
        """Record the final state of a job (and, unless its last attempt did, the change)."""
        _, recorder = self._require()
        now = utcnow()
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
        _, recorder = self._require()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
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
        return f"out of memory{limit}: killed with exit code {ended.exit_code}"
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
