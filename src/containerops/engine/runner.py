"""Running a flow: stages in order, actions in sequence or parallel, jobs one
after another, each job through the executor interface.

Failure scope: a job that fails (after its retries) skips the later jobs of its
action, the later actions of a sequence stage and every later stage; a
parallel sibling action is not "later" and runs to its end. ``when: on_failure``
jobs run only when such a failure precedes them, ``when: always`` jobs run
regardless. ``allow_failure`` records the failure and lets the flow go on.

Interruptions (Ctrl-C, SIGTERM, the flow's timeout) cancel the task that runs
the stages; each running job then destroys its container and is recorded as
cancelled. The exit handlers run next (the pending ``when: always`` and
``on_failure`` jobs, each within its timeout; a second cancel stops them), every
other job that never started is recorded as skipped, and the executor tears the
run down so that nothing of ours is left behind.

Before its stages start, a run of a ``concurrency:`` group waits for its turn
(``engine.concurrency``); while it runs, it obeys cancel requests another process
records in the store (``engine.cancelling``).

A run is prepared first (``PreparedRun``: its state, its reporter, its secrets);
its stages are ``_Stages``, each job's attempts ``engine.attempt.Attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from containerops.engine import resume
from containerops.engine.attempt import Attempts
from containerops.engine.cancelling import watch_cancel_requests
from containerops.engine.concurrency import take_turn
from containerops.engine.decisions import GOES_ON, describe
from containerops.engine.decisions import KIND as DECISION
from containerops.engine.fanout import Group, static_instances
from containerops.engine.masking import Masker
from containerops.engine.notify import LOGS, notify, wait_or_poll, waiting
from containerops.engine.plan import plan
from containerops.engine.prepared import LogSink, OnChange, PreparedRun
from containerops.engine.reporter import Reporter
from containerops.engine.scripts import Launch, pre_step, when_step
from containerops.engine.secrets import check_available
from containerops.engine.state import FINISHED, JobState, RunState
from containerops.engine.templating import flow_values, missing_outputs, run_values
from containerops.executors.base import Executor, ExecutorError, RunContext
from containerops.model.flow import Flow, Job
from containerops.model.matrix import aggregate
from containerops.store import Store, pauses, runs
from containerops.store.ownership import HEARTBEAT_EVERY, this_process
from containerops.store.values import utcnow

#: How often buffered state and log lines reach the store while a run goes on.
FLUSH_INTERVAL = 0.1
#: The most an exit handler (a ``when: always`` or ``on_failure`` job run after a timeout or
#: a cancel) may take when it gives no ``timeout`` of its own.
EXIT_HANDLER_TIMEOUT = 300.0


class Engine:
    """Runs one flow at a time on one executor, reporting everything to the store."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        on_change: OnChange | None = None,
        keep_workspace: bool = False,
        reporter_for: Callable[[int, Callable[[str], str]], Reporter] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        #: Where a new run's progress goes: (run id, mask) -> reporter; the store's recorder
        #: unless given (a test or a benchmark may keep it in memory).
        self.reporter_for = reporter_for or (
            lambda run_id, mask: store.recorder(run_id, mask=mask, on_logs=partial(notify, LOGS, run_id))
        )
        #: Leave the run's shared workspace in place; ``state.workspace`` then says where.
        self.keep_workspace = keep_workspace
        self._on_change = on_change
        self.masker = Masker()
        #: The server's public URL: service callbacks go to ``{callback_base}/api/v1/callbacks/...``.
        #: The server sets it; COOPS_SERVER_URL (the server's public URL setting) is the fallback.
        self.callback_base: str | None = os.environ.get("COOPS_SERVER_URL") or None
        #: How often a paused run reads the store for a decision taken by another process.
        self.decision_poll = 0.5
        #: A server's: where a run's lines go besides the store (its flow's ``logs:`` rules).
        self.log_sink_for: Callable[[RunState], LogSink | None] | None = None
        #: The run, once prepared (or restored).
        self.prepared: PreparedRun | None = None
        self._stages_task: asyncio.Task[None] | None = None
        self._early_interrupt: tuple[str, str] | None = None  # a cancel before the run existed
        self._suspended = False
        self._stopping = False

    @property
    def state(self) -> RunState | None:
        return self.prepared.state if self.prepared is not None else None

    @property
    def on_change(self) -> OnChange | None:
        """Told of every change of the run and its jobs (the live display); may be set late."""
        return self._on_change

    @on_change.setter
    def on_change(self, hook: OnChange | None) -> None:
        self._on_change = hook
        if self.prepared is not None:
            self.prepared.on_change = hook

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
    ) -> PreparedRun:
        """Save the flow and a pending run with all its jobs; the prepared run (its ``state``).

        ``secrets`` are values masked as ``***`` in every line the run's jobs print.
        ``flow_version`` (flow id, version id) runs a version already stored, which may
        be an older one (the server does that); ``source`` is then not saved again.
        ``secret_values`` (name -> value) fill ``${{ secrets.NAME }}``; all are masked,
        and a reference to any other name raises :class:`MissingSecret` before anything
        is recorded. ``reuse_from`` keeps what succeeded in that run (see ``reuse``).
        ``run_columns`` are more columns of the run row, written with it (the server's ``trigger``).
        """
        overrides = (params or {}).get("set") or {}
        values = dict(secret_values or {})
        check_available(flow, values, overrides)
        self.masker.add(*secrets, *values.values())
        if flow_version is None:
            flow_id, version_id, _ = self.store.save_flow(flow.uri, source, fmt)
        else:
            flow_id, version_id = flow_version
        fanned = static_instances(flow, flow_values(flow, {**flow.environments, **overrides}))
        jobs = [made for job in flow.jobs() for made in (job, *fanned.get(job.path, ()))]
        new = self.store.create_run(
            flow_id,
            version_id,
            self.executor.name,
            dict(params or {}),
            [(job.path, job.endpoint) for job in jobs],
            # this process owns the run from now on: another can tell when it is gone
            columns={**(run_columns or {}), "owner": this_process(), "heartbeat_at": utcnow()},
        )
        state = RunState(
            flow=flow,
            id=new.id,
            uid=new.uid,
            number=new.number,
            executor=self.executor.name,
            jobs={job.path: JobState(job=job, id=new.job_ids[job.path]) for job in jobs},
            instances={group: [job.path for job in made] for group, made in fanned.items()},
        )
        self.prepared = self._prepared(state, self.reporter_for(new.id, self.masker.mask), overrides, values)
        if reuse_from is not None:
            self.reuse(reuse_from)
        return self.prepared

    def _prepared(
        self, state: RunState, reporter: Reporter, overrides: Mapping[str, str], secret_values: dict[str, str]
    ) -> PreparedRun:
        merged = {**state.flow.environments, **overrides}
        flow_env = run_values(state, merged, secret_values).render_all(merged)
        return PreparedRun(
            state=state,
            reporter=reporter,
            masker=self.masker,
            flow_env=flow_env,
            secret_values=secret_values,
            values=run_values(state, flow_env, secret_values),
            on_change=self._on_change,
            interrupt=self._early_interrupt,
            log_sink=self.log_sink_for(state) if self.log_sink_for is not None else None,
        )

    def reuse(self, previous: int) -> list[str]:
        """Before ``run``: keep the jobs that succeeded in run ``previous`` (their status and
        outputs), so that only the others run. Returns the paths kept."""
        run = self._run()
        if run.state.status != "pending":
            raise RuntimeError("Engine.reuse() must be called before the run starts")
        return resume.keep_successes(self.store, run.state, run.reporter, previous)

    @classmethod
    def restore(
        cls,
        store: Store,
        executor: Executor,
        run_id: int,
        *,
        on_change: OnChange | None = None,
        secrets: Iterable[str] = (),
        secret_values: Mapping[str, str] | None = None,
        pin: Callable[[Flow, Mapping[str, str], str], Iterable[str]] | None = None,
        log_sink_for: Callable[[RunState], LogSink | None] | None = None,
    ) -> Engine:
        """An engine that goes on with an unfinished run (a paused one after a restart) from
        the store: finished jobs keep their status and outputs, a pause is waited at again
        with its original deadline. Call ``run()`` on it. ``pin`` pins the run's component
        jobs to the versions it resolved at its start and gives their secrets (the launch
        layer's ``pin_recorded_components``: the engine knows no repository);
        ``log_sink_for`` gives the run's lines from now on to its flow's log rules."""
        engine = cls(store, executor, on_change=on_change)
        engine.log_sink_for = log_sink_for
        state, params, recorder, pinned = resume.restored_state(
            store, run_id, executor.name, pin, adopts=executor.adopts
        )
        secrets = [*secrets, *pinned]
        values = dict(secret_values or {})
        engine.masker.add(*secrets, *values.values())
        recorder.mask = engine.masker.mask
        recorder.on_logs = partial(notify, LOGS, run_id)  # as a new run's: log streams wake up
        recorder.run_owner(this_process(), utcnow())  # the restoring process owns it now
        engine.prepared = engine._prepared(state, recorder, params.get("set") or {}, values)
        return engine

    def suspend(self) -> None:
        """Stop waiting at a pause without ending the run: it stays ``paused`` in the store,
        for ``restore`` to pick up. A run that is not paused is cancelled instead."""
        if self.state is None or self.state.status != "paused":
            self._stopping = True  # the server stops: no exit handlers hold it up
            self.cancel("server stopped")
            return
        self._suspended = True
        if self._stages_task is not None and not self._stages_task.done():
            self._stages_task.cancel()

    def cancel(self, reason: str = "cancelled", status: str = "cancelled") -> None:
        """Stop the run from outside (a signal handler, an API call). Safe to call twice."""
        if self.prepared is None:
            self._early_interrupt = self._early_interrupt or (status, reason)
        elif self.prepared.interrupt is None:
            self.prepared.interrupt = (status, reason)
        if self._stages_task is not None and not self._stages_task.done():
            self._stages_task.cancel()

    async def run(self) -> RunState:
        """Run the prepared flow to its end; always leaves the store complete."""
        run = self._run()
        state, reporter, flow = run.state, run.reporter, run.state.flow
        context = RunContext(run_id=state.uid, flow_uri=flow.uri, keep_workspace=self.keep_workspace)
        if state.started_at is None and not await take_turn(run, self.store):  # ``concurrency:``
            _finish(run)  # cancelled while it waited for its group: nothing of it ran
            return state
        state.started_at = state.started_at or utcnow()  # a restored run keeps its start
        if state.status != "paused":  # a restored paused run stays so: it can be decided meanwhile
            state.status = "running"
            reporter.run("running", utcnow(), started_at=state.started_at)
        reporter.flush()
        run.changed()
        flusher = asyncio.create_task(_flush_periodically(reporter))
        # another process (a newer run of its group, coops runs cancel) may ask it to stop
        watcher = asyncio.create_task(watch_cancel_requests(self.store, state.id, self.cancel))
        timer: asyncio.TimerHandle | None = None
        try:
            await self.executor.setup(context)
            attempts = Attempts(run, self.executor, self.store, self.callback_base)
            stages = _Stages(run, attempts, self.store, self.decision_poll)
            self._stages_task = asyncio.create_task(stages.run())
            if run.interrupt is not None:  # a signal came in before we got here
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
            if run.interrupt is not None and not (self._suspended or self._stopping):
                # exit handlers: what runs always, or on failure, runs after a timeout or cancel too
                self._stages_task = asyncio.create_task(stages.exit_handlers())
                with contextlib.suppress(asyncio.CancelledError):
                    await self._stages_task
        except ExecutorError as error:
            run.interrupt = run.interrupt or ("failure", str(error))
        except Exception as error:  # a bug of ours: record it, clean up, then let it show
            run.interrupt = run.interrupt or ("failure", f"internal error in the engine: {error!r}")
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
            for task in (flusher, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if run.log_sink is not None and not self._suspended:
                with contextlib.suppress(Exception):  # a sink's failure never changes a run
                    await asyncio.shield(run.log_sink.close())
            if self._suspended:  # set only while paused
                reporter.flush()  # left paused in the store, for Engine.restore
            else:
                _finish(run)
        return state

    def _run(self) -> PreparedRun:
        if self.prepared is None:
            raise RuntimeError("Engine.prepare() must be called before running")
        return self.prepared


class _Stages:
    """The stages of one run, in order: actions in sequence or in parallel, jobs one after
    another, pauses waited at; each job's attempts through ``Attempts``."""

    def __init__(self, run: PreparedRun, attempts: Attempts, store: Store, decision_poll: float) -> None:
        self.prepared = run
        self.attempts = attempts
        self.store = store  # pauses are kept there
        self.decision_poll = decision_poll
        flow = run.state.flow
        self._flow_limit = asyncio.Semaphore(flow.parallelism) if flow.parallelism else None
        #: stage name -> its limit
        self._stage_limits = {s.name: asyncio.Semaphore(s.parallelism) for s in flow.stages if s.parallelism}

    def limits(self, job: Job) -> list[asyncio.Semaphore]:
        """The slots a job takes while it runs: its flow's, then its stage's (the first part
        of its path: stage names have no dots)."""
        stage = self._stage_limits.get(job.path.split(".", 1)[0])
        return [limit for limit in (self._flow_limit, stage) if limit is not None]

    async def run(self) -> None:
        run = self.prepared
        failure: str | None = None
        for step in plan(run.state.flow).steps:
            if step.pause:
                if failure is not None:  # what follows is skipped anyway: nothing to approve
                    continue
                refused = await self._pause(step.stage)
                if refused is not None:  # rejected, or nobody decided in time
                    run.interrupt = run.interrupt or ("failure", refused)
                    return
            elif step.parallel:  # a failure in one lane does not stop its siblings
                tasks: list[asyncio.Task[str | None]] = []
                async with asyncio.TaskGroup() as group:
                    for index, lane in enumerate(step.lanes):
                        needed = step.needs[index] if step.needs else ()
                        tasks.append(
                            group.create_task(self._lane_after(lane, failure, tasks, needed, step.lanes))
                        )
                failure = failure or next((r for t in tasks if (r := t.result())), None)
            else:
                failure = await self._lane(step.lanes[0], failure)

    async def exit_handlers(self) -> None:
        """After a timeout, a cancel or a rejection: run the jobs that have not run and run
        ``when: always`` or ``on_failure`` (or by a Lua ``when``), in flow order, each within
        its own ``timeout`` or ``EXIT_HANDLER_TIMEOUT``. A second cancel stops them."""
        run = self.prepared
        assert run.interrupt is not None
        failure = run.interrupt[1]
        for job in run.state.flow.jobs():
            js = run.state.jobs[job.path]
            if (
                js.status != "pending"
                or not job.active
                or (job.when == "on_success" and job.condition is None)
            ):
                continue
            await self._job(dataclasses.replace(job, timeout=job.timeout or EXIT_HANDLER_TIMEOUT), failure)

    async def _lane_after(
        self,
        jobs: tuple[Job, ...],
        failure: str | None,
        lanes: list[asyncio.Task[str | None]],
        needed: tuple[int, ...],
        written: tuple[tuple[Job, ...], ...],
    ) -> str | None:
        """Run a lane once the lanes it needs have finished; a failure of theirs is in its scope
        (its ``on_success`` jobs are skipped, ``when: always`` ones still run). Meanwhile its
        first job says what it waits for (the live tree, ``--json``, the API show it)."""
        waiting = [written[index][0].path.split(".")[1] for index in needed if not lanes[index].done()]
        if waiting and jobs:
            first = self.prepared.state.jobs[jobs[0].path]
            if first.status == "pending":
                first.reason = f"waits for {', '.join(waiting)}"
                self.prepared.reporter.job(first.id, reason=first.reason)
                self.prepared.changed(first)
        for index in needed:
            theirs = await lanes[index]
            failure = failure or theirs
        return await self._lane(jobs, failure)

    async def _lane(self, jobs: tuple[Job, ...], failure: str | None) -> str | None:
        """Run jobs in order; return the path of the first failure in scope."""
        for job in jobs:
            failure = await self._job(job, failure)
        return failure

    async def _pause(self, stage_name: str) -> str | None:
        """Wait at a pause stage for its decision; None when approved, else why the run fails."""
        run = self.prepared
        state, reporter = run.state, run.reporter
        stage = next(s for s in state.flow.stages if s.name == stage_name)
        pause = pauses.open_pause(self.store, state.id, stage.name, stage.duration or stage.timeout)
        if pause.decision is None:
            if state.status != "paused":  # a restored run already is
                waits = f"{stage.duration:g} s (or an approval)" if stage.duration else "an approval"
                state.status, state.reason = "paused", f"waiting at stage {stage.name} for {waits}"
                reporter.run("paused", utcnow(), state.reason)
                reporter.flush()
                run.changed()
            pause = await self._decision(pause, "elapsed" if stage.duration else "timeout")
        said = describe(pause)
        if pause.decision not in GOES_ON:
            return said
        state.status, state.reason = "running", None
        reporter.run("running", utcnow(), said)
        reporter.flush()
        run.changed()
        return None

    async def _decision(self, pause: pauses.Pause, at_deadline: str) -> pauses.Pause:
        """The pause once decided (``at_deadline`` when its deadline passes first): woken by
        ``decide`` in this process, else by polling the store."""
        with waiting(DECISION, pause.run_id) as event:
            while True:
                current = pauses.get_pause(self.store, pause.run_id, pause.stage)
                assert current is not None
                if current.decision is not None:
                    return current
                wait = self.decision_poll
                if current.deadline is not None:
                    left = (current.deadline - utcnow()).total_seconds()
                    if left <= 0:
                        return pauses.expire(self.store, current, at_deadline)
                    wait = min(wait, left)
                await wait_or_poll(event, wait)

    async def _job(self, job: Job, failure: str | None) -> str | None:
        run = self.prepared
        js = run.state.jobs[job.path]
        if js.status in FINISHED:  # a restored run's, or kept from an earlier run
            return _failure_after(js, failure)
        if not job.active:
            run.settle(js, "skipped", "inactive")
            return failure
        if job.condition is not None:
            refused = await when_step(run, js, failure)
            if refused is not None:
                run.settle(js, *refused)
                return _failure_after(js, failure)
        elif job.when == "on_success" and failure is not None:
            run.settle(js, "skipped", f"skipped: {failure} failed")
            return failure
        elif job.when == "on_failure" and failure is None:
            run.settle(js, "skipped", "skipped: runs only on failure, and nothing failed")
            return failure
        if job.matrix is not None:  # its instances are the jobs that run
            await Group(run, js, self._job, self._add_jobs).run_instances(failure)
            return _failure_after(js, failure)
        subscribed, missing = _subscribed(run, job)
        missing = missing or missing_outputs(job, run.state)
        if missing:
            run.settle(js, "failure", missing)
        else:
            launch = Launch(job, subscribed)
            if job.pre is None or await pre_step(run, js, launch, failure):
                async with contextlib.AsyncExitStack() as slots:  # ``parallelism`` of flow and stage
                    for limit in self.limits(job):
                        await slots.enter_async_context(limit)
                    await self.attempts.run_job(js, launch)
        return _failure_after(js, failure)

    def _add_jobs(self, jobs: list[tuple[str, str | None]]) -> dict[str, int]:
        """Rows for the instances of a ``from:`` matrix, made when it is reached."""
        return runs.add_jobs(self.store, self.prepared.state.id, jobs)


def _failure_after(js: JobState, failure: str | None) -> str | None:
    if js.status == "failure" and not js.job.allow_failure:
        return failure or js.path
    return failure


def _subscribed(run: PreparedRun, job: Job) -> tuple[dict[str, str], str | None]:
    """The values a job subscribes to, or why it cannot start."""
    values: dict[str, str] = {}
    for sub in job.subscriptions:
        source = run.state.jobs[sub.source]
        if sub.key in source.outputs and sub.aggregate is not None:
            try:
                values[sub.env] = aggregate(sub.aggregate, source.outputs[sub.key])
            except ValueError as error:
                return values, f"needs {sub.key}|{sub.aggregate} from {sub.source}: {error}"
        elif sub.key in source.outputs:
            values[sub.env] = source.outputs[sub.key]
        elif sub.default is not None:  # optional: a skipped or failed producer is no failure
            values[sub.env] = sub.default
        elif source.status in ("skipped", "pending"):
            return values, f"needs {sub.key} from {sub.source}, which did not run ({source.status})"
        else:
            return values, f"needs {sub.key} from {sub.source}, which never printed it ({source.status})"
    return values, None


def _finish(run: PreparedRun) -> None:
    """Settle what never ran, and the run: its status says why it ended."""
    state, reporter = run.state, run.reporter
    for js in state.jobs.values():
        if js.status not in FINISHED:
            if js.status == "running":  # only when cancellation came in mid-start
                run.settle(js, "cancelled", run.interrupt_reason())
            else:
                run.settle(js, "skipped", f"skipped: {run.interrupt_reason()}")
    if run.interrupt is not None:
        status, reason = run.interrupt
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
    reporter.run(status, state.finished_at, reason, finished_at=state.finished_at)
    reporter.flush()
    run.changed()


async def _flush_periodically(reporter: Reporter) -> None:
    """Lines reach the store within FLUSH_INTERVAL (a kill loses at most that), and the
    run's heartbeat says every HEARTBEAT_EVERY seconds that its owner is alive."""
    beat = 0.0
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        beat += FLUSH_INTERVAL
        if beat >= HEARTBEAT_EVERY:
            beat = 0.0
            reporter.heartbeat(utcnow())
        reporter.flush(wait=False)
